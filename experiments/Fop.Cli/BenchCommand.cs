using Fop.Research.Diagnostics;
using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using Fop.Research.Data;
using Fop.Research.Models;
using Fop.Research.Optim;
using Fop.Research.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Devices;

namespace Fop.Cli;

/// <summary>
/// `fop bench`: milliseconds per optimizer step, measured so that a noisy shared machine cannot tilt a ratio. The
/// optimizers run interleaved in rounds (each round gives every optimizer whole curvature intervals, in rotating order),
/// ratios are taken within a round, and the table reports the median and range over rounds. Every measured step must
/// do the work it names: a refused (non-finite) step fails the benchmark.
/// </summary>
internal sealed class BenchCommand : Command<BenchCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <NAME>"), Description("mlp, smallcnn, smallcnn-bn, resnet18, resnet32, resnet50 or vit (default smallcnn).")]
        public string Model { get; init; } = "smallcnn";

        [CommandOption("--batch <N>"), Description("Examples per step (default 4096).")]
        public int Batch { get; init; } = 4096;

        [CommandOption("--optimizers <LIST>"), Description("Comma-separated optimizers (sgd, adamw, kfac, fop, shampoo, soap, muon), interleaved in each round (default sgd,adamw,kfac,fop).")]
        public string Optimizers { get; init; } = "sgd,adamw,kfac,fop";

        [CommandOption("--rounds <R>"), Description("Interleaved rounds (at least 3; default 3).")]
        public int Rounds { get; init; } = 3;

        [CommandOption("--intervals <K>"), Description("Curvature intervals per optimizer per round (default 1).")]
        public int Intervals { get; init; } = 1;

        [CommandOption("--interval <K>"), Description("Curvature and inverse interval of KFAC/FOP, and Shampoo's root and SOAP's basis interval, in steps (default 10).")]
        public int Interval { get; init; } = 10;

        [CommandOption("--micro-batch <N>"), Description("Largest chunk through forward/backward at once (default 0: the whole batch).")]
        public int MicroBatch { get; init; }

        [CommandOption("--lr <LR>"), Description("Step size: small enough that every step is finite (a refused step fails the bench; default 1e-3).")]
        public double Lr { get; init; } = 1e-3;

        [CommandOption("--damping <L>"), Description("KFAC/FOP damping (default 1e-2).")]
        public double Damping { get; init; } = 1e-2;

        [CommandOption("--set <KEY=VALUE>"), Description("Further config overrides for every optimizer (e.g. kfac.factor_examples=512). Repeatable.")]
        public string[] Set { get; init; } = [];

        [CommandOption("--data <KIND>"), Description("real (Fashion-MNIST batches for mlp/smallcnn; the default where available) or random.")]
        public string Data { get; init; } = "real";

        [CommandOption("--threads <N>"), Description("Torch intra-op threads (0: libtorch's default).")]
        public int Threads { get; init; }

        [CommandOption("--device <DEVICE>"), Description("cpu, cuda or auto (default cpu).")]
        public string Device { get; init; } = "cpu";

        [CommandOption("--whole-steps"), Description("Time whole steps only: one device synchronise before and after each optimizer's run of steps, no phase timing (on a GPU the phases' synchronises would be timed too). Also counts what each step waits on.")]
        public bool WholeSteps { get; init; }

        [CommandOption("--json <FILE>"), Description("Also write every round's measurements as JSON.")]
        public string? Json { get; init; }
    }

    /// <summary>One optimizer's measurements in one round, per step (amortised over the round's intervals).</summary>
    sealed record RoundResult(int Round, string Optimizer, double MsPerStep, double Forward, double Backward, double Curvature, double Update, int Refused,
        double Communication = 0, double BytesPerStep = 0, double WaitsPerStep = double.NaN, double ReadsPerStep = double.NaN);

    sealed class Contender(string name, Module<Tensor, Tensor> model, ModelOptimizer optimizer) : IDisposable
    {
        public string Name => name;
        public ModelOptimizer Optimizer => optimizer;
        public void Dispose() { optimizer.Dispose(); model.Dispose(); }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        if (s.Rounds < 3) throw new ArgumentException("--rounds must be at least 3: medians and ranges need them.");
        if (s.Intervals < 1 || s.Interval < 1) throw new ArgumentException("--intervals and --interval must be >= 1.");
        if (s.Threads > 0) torch.set_num_threads(s.Threads);
        var device = DeviceChoice.Resolve(s.Device);
        var modelKind = ModelCatalog.Parse(s.Model);
        var (shape, classes) = ModelCatalog.NativeInput(modelKind);
        var names = s.Optimizers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        int stepsPerRound = s.Intervals * s.Interval;

        // Batches: real Fashion-MNIST examples in the training order where the model takes them, else fixed random ones.
        RunData? data = null;
        string dataKind = "random";
        if (s.Data == "real" && ModelCatalog.TakesFashionMnist(modelKind))
        {
            try { data = RunData.Load(ConfigFile.Load(null, ["dataset=fashion-mnist"])); dataKind = "fashion-mnist"; }
            catch (DatasetUnavailableException e) { AnsiConsole.MarkupLine(Markup.Escape($"Fashion-MNIST unavailable ({e.Message.Split('.')[0]}); using random batches.")); }
        }
        else if (s.Data is not ("real" or "random")) throw new ArgumentException($"--data '{s.Data}': expected real or random.");
        // Seeded, so two benches time the same batch.
        using var draws = new Fop.Research.Randomness.SeededRandom(0);
        using var randomX = data is null ? draws.Normal([s.Batch, .. shape], device) : null;
        using var randomY = data is null ? draws.Integers(0, classes, [s.Batch], device) : null;
        // Like training: the examples move to the device once (uint8) and each batch is indexed there.
        using var train = data is null ? null : device.type == DeviceType.CPU ? null : data.Train.To(device);
        var source = train ?? data?.Train;
        using var permutation = source is null ? null : BatchOrder.Permutation(source.Count, 0, 0, source.Store.Device);
        int batchesPerEpoch = source is null ? 1 : Math.Max(1, source.Count / s.Batch);
        (Tensor X, Tensor Y) Batch(int step)
        {
            if (source is null) return (randomX!.alias(), randomY!.alias());
            var idx = BatchOrder.BatchIndices(permutation!, step % batchesPerEpoch, s.Batch);
            return source.Batch(idx, ImageView.Eval, device);
        }

        var contenders = names.Select(name =>
        {
            var config = ConfigFile.Load(null, new[] { $"optimizer={name}", $"model={s.Model}", $"batch_size={s.Batch}", $"micro_batch_size={s.MicroBatch}",
                $"kfac.curvature_interval={s.Interval}", $"kfac.inverse_interval={s.Interval}", $"kfac.damping={s.Damping}", "fop.diagnostics_interval=0",
                $"shampoo.precondition_frequency={s.Interval}", $"soap.precondition_frequency={s.Interval}" }.Concat(s.Set));
            torch.manual_seed(0);
            var model = ModelCatalog.Create(modelKind, shape, classes);
            model.to(device);
            var optimizer = OptimizerFactory.Create(config, model);
            // Under mpirun every rank steps its replica on its rows of the same global batch; rank 0 reports.
            if (Job.Parallel is { } job) optimizer.Distribute(job);
            return new Contender(name, model, optimizer);
        }).ToList();
        var comm = Job.Parallel?.Communicator;
        void Say(string line) { if (Job.Speaks) AnsiConsole.MarkupLine(Markup.Escape(line)); }

        void Synchronize() => DeviceChoice.Synchronize(device);
        RoundResult RunSteps(Contender c, int round, int count, ref int stepIndex) => s.WholeSteps ? RunWholeSteps(c, round, count, ref stepIndex) : RunPhases(c, round, count, ref stepIndex);
        // One synchronise before and one after the run of steps, nothing between: what the device does is timed as it would run in training.
        RoundResult RunWholeSteps(Contender c, int round, int count, ref int stepIndex)
        {
            int refused = 0;
            double commBefore = comm?.SecondsCommunicating ?? 0;
            long bytesBefore = comm?.BytesCommunicated ?? 0;
            Synchronize();
            var before = DeviceSyncs.Counts;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < count; i++)
            {
                using var scope = torch.NewDisposeScope();
                var (x, y) = Batch(stepIndex++);
                if (c.Optimizer.Step(x, y, s.Lr).Skipped) refused++;
            }
            var waits = DeviceSyncs.Counts - before;
            Synchronize();
            double total = clock.Elapsed.TotalMilliseconds;
            return new RoundResult(round, c.Name, total / count, double.NaN, double.NaN, double.NaN, double.NaN, refused,
                ((comm?.SecondsCommunicating ?? 0) - commBefore) * 1000 / count, ((comm?.BytesCommunicated ?? 0) - bytesBefore) / (double)count,
                waits.Total / (double)count, waits.HostReads / (double)count);
        }
        RoundResult RunPhases(Contender c, int round, int count, ref int stepIndex)
        {
            var timer = new PhaseTimer(device.type == DeviceType.CUDA ? Synchronize : null);
            c.Optimizer.Timer = timer;
            double total = 0;
            int refused = 0;
            double commBefore = comm?.SecondsCommunicating ?? 0;
            long bytesBefore = comm?.BytesCommunicated ?? 0;
            for (int i = 0; i < count; i++)
            {
                using var scope = torch.NewDisposeScope();
                var (x, y) = Batch(stepIndex++);
                Synchronize();
                var clock = Stopwatch.StartNew();
                var result = c.Optimizer.Step(x, y, s.Lr);
                Synchronize();
                total += clock.Elapsed.TotalMilliseconds;
                if (result.Skipped) refused++;
            }
            c.Optimizer.Timer = null;
            double Per(StepPhase p) => timer.Milliseconds(p) / count;
            return new RoundResult(round, c.Name, total / count, Per(StepPhase.Forward), Per(StepPhase.Backward), Per(StepPhase.Curvature), Per(StepPhase.Update), refused,
                ((comm?.SecondsCommunicating ?? 0) - commBefore) * 1000 / count, ((comm?.BytesCommunicated ?? 0) - bytesBefore) / (double)count);
        }

        // Warm-up: one interval each (allocations, first decompositions), not measured.
        var stepIndex = new int[contenders.Count];
        for (int k = 0; k < contenders.Count; k++) RunSteps(contenders[k], -1, s.Interval, ref stepIndex[k]);
        var results = new List<RoundResult>();
        for (int round = 0; round < s.Rounds; round++)
            for (int j = 0; j < contenders.Count; j++)
            {
                int k = (round + j) % contenders.Count;      // rotating order: drift does not always land on the same optimizer
                var r = RunSteps(contenders[k], round, stepsPerRound, ref stepIndex[k]);
                results.Add(r);
                string detail = s.WholeSteps ? $"waits {r.WaitsPerStep:F2} per step" : $"forward {r.Forward:F1}, backward {r.Backward:F1}, curvature {r.Curvature:F1}, update {r.Update:F1}";
                Say($"round {round + 1}/{s.Rounds} {r.Optimizer}: {r.MsPerStep:F1} ms/step ({detail}" +
                    (comm is null ? "" : $", in collectives {r.Communication:F1}, {r.BytesPerStep / 1e6:F2} MB") + $"){(r.Refused > 0 ? $", {r.Refused} REFUSED" : "")}");
            }
        foreach (var c in contenders) c.Dispose();
        data?.Dispose();

        (double Median, double Min, double Max) Stats(IEnumerable<double> values)
        {
            var v = values.Where(double.IsFinite).Order().ToArray();
            return v.Length == 0 ? (double.NaN, double.NaN, double.NaN) : (v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2, v[0], v[^1]);
        }
        double RatioIn(int round, string a, string b)
        {
            var ra = results.FirstOrDefault(r => r.Round == round && r.Optimizer == a);
            var rb = results.FirstOrDefault(r => r.Round == round && r.Optimizer == b);
            return ra is null || rb is null ? double.NaN : ra.MsPerStep / rb.MsPerStep;
        }
        string F((double Median, double Min, double Max) x, string format) => double.IsNaN(x.Median) ? "" : $"{x.Median.ToString(format)} ({x.Min.ToString(format)}-{x.Max.ToString(format)})";
        var summary = names.Select(name =>
        {
            var mine = results.Where(r => r.Optimizer == name).ToList();
            return new
            {
                optimizer = name,
                ms_per_step = Stats(mine.Select(r => r.MsPerStep)), forward_ms = Stats(mine.Select(r => r.Forward)), backward_ms = Stats(mine.Select(r => r.Backward)),
                curvature_ms = Stats(mine.Select(r => r.Curvature)), update_ms = Stats(mine.Select(r => r.Update)),
                ratio_to_sgd = Stats(Enumerable.Range(0, s.Rounds).Select(r => RatioIn(r, name, "sgd"))),
                ratio_to_kfac = Stats(Enumerable.Range(0, s.Rounds).Select(r => RatioIn(r, name, "kfac"))),
                refused_steps = mine.Sum(r => r.Refused),
                communication_ms = Stats(mine.Select(r => r.Communication)), bytes_per_step = Stats(mine.Select(r => r.BytesPerStep)),
                waits_per_step = Stats(mine.Select(r => r.WaitsPerStep)), reads_per_step = Stats(mine.Select(r => r.ReadsPerStep)),
            };
        }).ToList();
        if (!Job.Speaks) return results.Sum(r => r.Refused) > 0 ? ExitCodes.Abnormal : ExitCodes.Done;
        var table = s.WholeSteps ? new Table().AddColumns("optimizer", "ms/step", "/ SGD", "/ KFAC", "waits/step", "reads/step", "refused")
            : new Table().AddColumns("optimizer", "ms/step", "forward", "backward", "curvature", "update", "/ SGD", "/ KFAC", "refused");
        if (comm is not null) table.AddColumns("in collectives (ms)", "MB/step per rank");
        foreach (var r in summary)
        {
            string[] cells = s.WholeSteps
                ? [r.optimizer, F(r.ms_per_step, "F1"), F(r.ratio_to_sgd, "F2"), F(r.ratio_to_kfac, "F2"), r.waits_per_step.Median.ToString("F2"), r.reads_per_step.Median.ToString("F2"), r.refused_steps.ToString()]
                : [r.optimizer, F(r.ms_per_step, "F0"), F(r.forward_ms, "F0"), F(r.backward_ms, "F0"), F(r.curvature_ms, "F0"), F(r.update_ms, "F0"),
                    F(r.ratio_to_sgd, "F2"), F(r.ratio_to_kfac, "F2"), r.refused_steps.ToString()];
            if (comm is not null) cells = [.. cells, F(r.communication_ms, "F0"), (r.bytes_per_step.Median / 1e6).ToString("F2")];
            table.AddRow(cells);
        }
        AnsiConsole.Write(table);
        var machine = RunView.Machine(device) + (Job.Parallel is { } ranks ? $", {ranks.Size} ranks (rank 0's times; collectives include waiting for slower ranks)" : "");
        AnsiConsole.MarkupLine(Markup.Escape($"median (min-max) over {s.Rounds} interleaved rounds of {stepsPerRound} steps per optimizer (ratios taken within each round{(s.WholeSteps ? "; whole steps, one synchronise per round's run of steps, waits counted by DeviceSyncs" : "")}); model {s.Model}, batch {s.Batch}" +
            $"{(s.MicroBatch > 0 ? $" in micro-batches of {s.MicroBatch}" : "")}, interval {s.Interval}, lr {s.Lr:g3}, damping {s.Damping:g3}, {dataKind} batches; {machine}"));
        if (s.Json != null)
        {
            var doc = new
            {
                machine, model = s.Model, batch = s.Batch, interval = s.Interval, rounds = s.Rounds, steps_per_round = stepsPerRound, micro_batch = s.MicroBatch,
                lr = s.Lr, damping = s.Damping, data = dataKind, overrides = s.Set, threads = torch.get_num_threads(), ranks = Job.Parallel?.Size ?? 1,
                timing = s.WholeSteps ? "whole-steps" : "phases",
                summary = summary.Select(r => new
                {
                    r.optimizer, r.refused_steps,
                    ms_per_step = new { median = r.ms_per_step.Median, min = r.ms_per_step.Min, max = r.ms_per_step.Max },
                    forward_ms = r.forward_ms.Median, backward_ms = r.backward_ms.Median, curvature_ms = r.curvature_ms.Median, update_ms = r.update_ms.Median,
                    ratio_to_sgd = new { median = r.ratio_to_sgd.Median, min = r.ratio_to_sgd.Min, max = r.ratio_to_sgd.Max },
                    ratio_to_kfac = new { median = r.ratio_to_kfac.Median, min = r.ratio_to_kfac.Min, max = r.ratio_to_kfac.Max },
                    communication_ms = r.communication_ms.Median, bytes_per_step = r.bytes_per_step.Median,
                    waits_per_step = r.waits_per_step.Median, reads_per_step = r.reads_per_step.Median,
                }),
                rounds_detail = results.Select(r => new { round = r.Round, optimizer = r.Optimizer, ms_per_step = r.MsPerStep, forward_ms = r.Forward, backward_ms = r.Backward, curvature_ms = r.Curvature, update_ms = r.Update, refused = r.Refused }),
            };
            Fop.Research.Io.AtomicFile.WriteAllText(s.Json, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        }
        int refusedTotal = results.Sum(r => r.Refused);
        if (refusedTotal > 0)
        {
            Console.Error.WriteLine($"bench invalid: {refusedTotal} measured step(s) were refused as non-finite, so the times above include skipped work. Lower --lr or raise --damping.");
            return ExitCodes.Abnormal;
        }
        return ExitCodes.Done;
    }
}
