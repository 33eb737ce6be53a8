using System.ComponentModel;
using Fop.Research.Io;
using Fop.Research.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Fop.Cli;

/// <summary>Options every training command shares.</summary>
internal class RunSettings : CommandSettings
{
    [CommandOption("--config <PATH>"), Description("JSON config (experiments/configs/...). Defaults apply when omitted.")]
    public string? Config { get; init; }

    [CommandOption("--set <KEY=VALUE>"), Description("Override a config key (dotted for sections: kfac.damping=1e-2). Repeatable.")]
    public string[] Set { get; init; } = [];

    [CommandOption("--device <DEVICE>"), Description("cpu, cuda or auto (overrides the config).")]
    public string? Device { get; init; }

    [CommandOption("--data-dir <DIR>"), Description("Folder to look in first for the data set.")]
    public string? DataDir { get; init; }

    [CommandOption("--out <DIR>"), Description("Root of run folders (overrides output_dir).")]
    public string? Out { get; init; }

    public RunConfig Load(params string[] extra)
    {
        var sets = Set.ToList();
        if (Device != null) sets.Add($"device={Device}");
        if (DataDir != null) sets.Add($"data_dir={DataDir}");
        if (Out != null) sets.Add($"output_dir={Out}");
        sets.AddRange(extra);
        return ConfigFile.Load(Config, sets);
    }
}

internal sealed class TrainCommand : Command<TrainCommand.Settings>
{
    public sealed class Settings : RunSettings
    {
        [CommandOption("--resume"), Description("Continue from the run folder's last checkpoint (refused if the config would change the trajectory so far).")]
        public bool Resume { get; init; }

        [CommandOption("--overwrite"), Description("Start the run afresh even if its folder already holds a run (its checkpoint and logs are replaced).")]
        public bool Overwrite { get; init; }

        [CommandOption("--fork <NAME>"), Description("Start a new run folder NAME from this run's last checkpoint with the given config (e.g. a new lr); fork.json records the source.")]
        public string? Fork { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var config = settings.Load();
        var runDir = Path.Combine(config.OutputDir, config.Name);
        bool resume = settings.Resume;
        if (settings.Fork is not null && Job.Parallel is not null) throw new ArgumentException("--fork prepares a run folder: run it once without mpirun, then train the fork with --resume under mpirun.");
        string? forkSource = null;
        if (settings.Fork is { } fork)
        {
            forkSource = runDir;
            config = ConfigFile.Override(config, [$"name={fork}"]).Validate();
            runDir = Path.Combine(config.OutputDir, config.Name);
            resume = true;
        }
        if (!resume && !settings.Overwrite && (File.Exists(Path.Combine(runDir, "checkpoint.bin")) || File.Exists(Path.Combine(runDir, "summary.json"))))
            throw new ArgumentException($"{runDir}: already holds a run. Continue it with --resume, branch from it with --fork NAME, start it afresh with --overwrite, or choose another name.");
        using var data = RunData.Load(config, m => { if (Job.Speaks) AnsiConsole.MarkupLine(Markup.Escape(m)); });
        RunFolderLock? forkLock = null;
        if (forkSource is not null)
        {
            // Checked before the fork's folder gets anything: a fork that cannot load its source's checkpoint leaves nothing behind.
            var sourceCheckpoint = Path.Combine(forkSource, "checkpoint.bin");
            if (File.Exists(sourceCheckpoint) && !File.Exists(Path.Combine(runDir, "fork.json")))
            {
                try { Trainer.CheckCheckpointFits(config, data, sourceCheckpoint); }
                catch (InvalidDataException e) { throw new InvalidDataException($"--fork {config.Name}: {e.Message} Fork only settings that keep the model and optimizer, or start a new run.", e); }
            }
            // The fork's folder is the run's from here: held until the run ends, so no other process writes into it meanwhile.
            forkLock = RunFolderLock.Acquire(runDir);
            var record = RunFork.Prepare(forkSource, runDir, config);
            AnsiConsole.MarkupLine(Markup.Escape($"fork of {record.ForkedFrom} at step {record.AtStep} (epoch {record.AtEpoch}): {(record.Changes.Count == 0 ? "no config change" : string.Join("; ", record.Changes))}"));
        }
        if (Job.Speaks)
            AnsiConsole.MarkupLine(Markup.Escape($"{config.Name}: {config.OptimizerName} on {config.ModelName}/{config.DatasetName} ({data.Train.Count} train, {data.Test.Count} test), batch {config.BatchSize}" +
                (Job.Parallel is { } job ? $" over {job.Size} processes" : "") + (config.MicroBatchSize > 0 ? $" in micro-batches of {config.MicroBatchSize}" : "") +
                $", lr {config.ScaledLr:g4}, {config.Epochs} epochs -> {runDir}"));
        RunSummary summary;
        using (forkLock) summary = RunView.Run(config, data, runDir, resume);
        if (Job.Speaks) AnsiConsole.Write(RunView.SummaryTable([summary]));
        if (summary.Diverged is not null)
        {
            Console.Error.WriteLine($"run ended abnormally: {summary.Diverged}");
            return ExitCodes.Abnormal;
        }
        return ExitCodes.Done;
    }
}
