using Fop.Cli;
using Spectre.Console;
using Spectre.Console.Cli;

// Before anything touches TorchSharp: on Debian 12 its native library needs a libstdc++ newer than the system's.
Fop.Research.Platform.TorchSharpNatives.EnsureLoadable();
// A system libtorch of another version than TorchSharp's would crash at the first tensor: stop here, saying which.
if (Fop.Research.Platform.TorchSharpNatives.LibtorchProblem is { } libtorchProblem)
{
    Console.Error.WriteLine($"fop: {libtorchProblem}");
    return ExitCodes.BadInput;
}
FileSizeSignal.Ignore();
// Piped or redirected output keeps whole table rows on one line instead of wrapping them at 80 columns.
if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 240;
var app = new CommandApp();
app.Configure(c =>
{
    c.SetApplicationName("fop");
    c.SetApplicationVersion(CliVersion.Text);
    // An unknown or misspelt option is an error (exit 2, named), never silently ignored.
    c.UseStrictParsing();
    c.AddCommand<TrainCommand>("train").WithDescription("Train one run from a config (JSON) with --set key=value overrides.");
    c.AddCommand<SweepCommand>("sweep").WithDescription("Run the cross product of --grid settings, one run folder each; resumes where it stopped.");
    c.AddCommand<StudyFileCommand>("study").WithDescription("Run a study declared in a file (experiments/studies/*.json): configs x variants x seeds, paired tables with 95% intervals; resumable.");
    c.AddCommand<ClaimsCommand>("claims").WithDescription("The paper's claims (speed-up, reaching the target, small damping, long-tailed error) checked on the fair study's committed results, a verdict per cell.");
    c.AddCommand<CurvesCommand>("curves").WithDescription("Rate curves of the fair study's third pass: cross-fitted and matched-rate comparisons with Holm over the declared family, and FOP's mechanism against batch (experiments/results/fmnist-curves-claims.md).");
    c.AddCommand<QuickstartCommand>("quickstart").WithDescription("Fashion-MNIST, small CNN: train every optimizer briefly, print a table, write a plot.");
    c.AddCommand<BenchCommand>("bench").WithDescription("Milliseconds per optimizer step (amortised over curvature intervals) and the ratio to SGD.");
    c.AddCommand<ReportCommand>("report").WithDescription("Figures (PNG + offline HTML) and a markdown summary for a study results folder, a run folder or a folder of runs.");
    c.AddCommand<LandscapeCommand>("landscape").WithDescription("Loss landscapes, the FOP plane and Hessian sharpness around trained checkpoints.");
    c.AddCommand<FactorErrorCommand>("factor-error").WithDescription("Relative Frobenius error of KFAC factors from a subset of examples / conv positions against the full batch's, per layer.");
    c.AddCommand<GpuCheckCommand>("gpu-check").WithDescription("Checks on a GPU: CPU and CUDA steps agree, one host read per step, CIFAR ResNet-18 trains end to end (experiments/gpu/).");
    c.AddCommand<ReferenceStepCommand>("reference-step").WithDescription("Write a step case (weights, batches, options, weights after SGD/KFAC/FOP steps) for experiments/gpu/pytorch_reference.py --compare.");
    c.AddCommand<CommEstimateCommand>("comm-estimate").WithDescription("Bytes per step per rank of data-parallel SGD, KFAC and FOP for a model, by layer, for several rank counts.");
    c.AddCommand<DistributedCheckCommand>("distributed-check").WithDescription("Under mpirun: each rank compares its replica with one-process training (SGD, AdamW, KFAC, FOP, BatchNorm, checkpoints).");
    c.AddCommand<PrepareImageNet100Command>("prepare-imagenet100").WithDescription("Build the ImageNet-100 subset (symlinks) from an ImageNet-1K folder.");
    c.PropagateExceptions();
});
try
{
    if (int.TryParse(Environment.GetEnvironmentVariable(Fop.Research.Distributed.MpiCommunicator.SizeVariable), out int ranks) && ranks > 1
        && !(args.Length > 0 && Job.Commands.Contains(args[0])))
        throw new ArgumentException($"only {string.Join(" and ", Job.Commands)} run on several processes; run '{(args.Length > 0 ? args[0] : "")}' without mpirun.");
    return app.Run(args);
}
catch (Exception e) when (ExitCodes.IsBadInput(e))
{
    Console.Error.WriteLine($"error: {Rank()}{ExitCodes.Message(e)}");
    Fop.Research.Distributed.MpiCommunicator.AbortJob(ExitCodes.BadInput);
    return ExitCodes.BadInput;
}
catch (Exception e)
{
    // Anything else is a defect or a failure of the machine, not of the input: say what, keep the trace for a bug report.
    Console.Error.WriteLine($"error: {Rank()}{ExitCodes.Message(e)}");
    if (Environment.GetEnvironmentVariable("FOP_TRACE") == "1") Console.Error.WriteLine(e);
    else Console.Error.WriteLine("(set FOP_TRACE=1 for the stack trace)");
    // In a job the other ranks may wait for this one inside a collective: end them all rather than hang.
    Fop.Research.Distributed.MpiCommunicator.AbortJob(ExitCodes.Abnormal);
    return ExitCodes.Abnormal;
}

static string Rank() => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") is { } r && Environment.GetEnvironmentVariable(Fop.Research.Distributed.MpiCommunicator.SizeVariable) is { } n && n != "1" ? $"rank {r} of {n}: " : "";
