using System.Diagnostics;
using System.Text.Json;
using Fop.Research.Data;
using Fop.Research.Io;
using Fop.Research.Models;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Devices;

namespace Fop.Research.Training;

public sealed partial class Trainer
{
    /// <summary>Why an epoch's steps ended.</summary>
    enum EpochEnd { Completed, MaxSteps, Stopped, Diverged }

    /// <summary>
    /// One run in its folder: the model, optimizer, schedule, logs and batch feed, and the state a checkpoint holds.
    /// Opening it writes config.json and restores a checkpoint when resuming; each stage (a step, the end of an epoch, the
    /// summary) is one method, and a checkpoint always records the position the run continues from.
    /// </summary>
    sealed class Session : IDisposable
    {
        readonly Trainer trainer;
        readonly RunConfig config;
        readonly string checkpointPath;
        readonly Distributed.DataParallel? parallel;
        readonly string? scratch;
        readonly Device device;
        readonly Module<Tensor, Tensor> model;
        readonly ModelOptimizer optimizer;
        readonly Diagnostics.ParameterVector? initial;
        readonly LrScheduler scheduler;
        readonly CsvLog metrics, steps, layers;
        readonly CsvLog? noise;
        readonly CsvLog? evals;
        readonly BatchFeed feed;
        readonly int stepsPerEpoch;
        readonly double baseLr;
        readonly Stopwatch clock = Stopwatch.StartNew();
        readonly double startSeconds;
        readonly HashSet<string> warningsSeen;
        long stepsThisProcess;
        int consecutiveSkips;
        Devices.SyncCounts stepSyncs;

        public State State { get; }

        public Session(Trainer trainer, string runDir, bool resume)
        {
            this.trainer = trainer;
            config = trainer.config;
            var data = trainer.data;
            parallel = trainer.Parallel;
            var readCheckpoint = Path.Combine(runDir, "checkpoint.bin");
            var configPath = Path.Combine(runDir, "config.json");
            if (Directory.Exists(readCheckpoint)) throw new InvalidDataException($"{readCheckpoint}: is a directory, expected the run's checkpoint file.");
            bool resuming = resume && File.Exists(readCheckpoint);
            if (resume && !resuming && parallel is not { Rank: > 0 }) CheckNothingToResume(runDir);
            if (parallel is not null && !parallel.All(resuming) & !parallel.All(!resuming))
                throw new InvalidOperationException($"rank {parallel.Rank}: the ranks disagree on whether {readCheckpoint} exists; every rank must see the run folder (a shared file system).");
            if (resuming) trainer.CheckResumable(configPath);
            // Only rank 0 writes the run folder; the other ranks read its checkpoint and keep their own files out of the way.
            if (parallel is { Rank: > 0 })
            {
                // The process id in the name lets a later rank remove the folder of one that was killed before it could.
                RemoveOrphanedScratch();
                scratch = Directory.CreateTempSubdirectory($"fop-rank{parallel.Rank}-{Environment.ProcessId}-").FullName;
                Distributed.MpiCommunicator.DeleteOnStop(scratch);
                runDir = scratch;
            }
            try
            {
            checkpointPath = Path.Combine(runDir, "checkpoint.bin");
            bool resumingLogs = resuming && scratch is null;
            // A process killed while writing leaves its temporary file behind; the file it was replacing is intact.
            if (Directory.Exists(runDir))
                foreach (var stale in Directory.GetFiles(runDir, ".*.tmp*")) File.Delete(stale);
            foreach (var w in config.Warnings()) trainer.OnMessage?.Invoke($"warning: {w}");
            AtomicFile.WriteAllText(Path.Combine(runDir, "config.json"), ConfigFile.ToJson(config));
            if (config.Threads > 0) torch.set_num_threads(config.Threads);
            device = DeviceChoice.Resolve(config.Device);
            DeviceChoice.SetTf32(device, config.Tf32);

            torch.manual_seed(config.Seed);
            model = ModelCatalog.Create(config.Model, data.Train.ExampleShape, data.Train.NumClasses, config.MlpHidden);
            model.to(device);
            trainer.Model = model;
            optimizer = OptimizerFactory.Create(config, model);
            optimizer.NoiseInterval = config.NoiseInterval;
            if (parallel is not null) optimizer.Distribute(parallel);
            // The initial weights are a function of the seed, so distance from initialisation needs no stored copy and survives resumes.
            initial = config.NoiseInterval > 0 ? Diagnostics.ParameterVector.Of(model) : null;
            stepsPerEpoch = BatchOrder.StepsPerEpoch(data.Train.Count, config.BatchSize);
            scheduler = new LrScheduler(config.Schedule, config.Epochs, stepsPerEpoch);
            var state = new State();
            if (resuming)
            {
                state = Restore(readCheckpoint, model, optimizer, device);
                scheduler.PlateauState = (state.PlateauFactor, state.PlateauBest, state.PlateauBad);
                trainer.OnMessage?.Invoke($"resumed from {readCheckpoint} at epoch {state.Epoch + 1}, step {state.StepInEpoch} ({state.GlobalStep} steps done)");
            }
            else if (File.Exists(checkpointPath)) File.Delete(checkpointPath);
            State = state;

            metrics = new CsvLog(Path.Combine(runDir, "metrics.csv"), data.Validation is null ? EpochMetrics.Header : EpochMetrics.HeaderWithValidation, resumingLogs, keep: r => int.Parse(r[0]) <= state.Epoch);
            steps = new CsvLog(Path.Combine(runDir, "steps.csv"), "step,epoch,lr,loss,accuracy,ms,skipped,beta,eta,s,cos_g1_g2,perp_ratio,kl_base,kl_cross,kl_orthogonal,kl_clip_factor", resumingLogs, keep: r => long.Parse(r[0]) < state.GlobalStep);
            layers = new CsvLog(Path.Combine(runDir, "layers.csv"), "step,layer,s,beta,eta,cos_g1_g2,perp_ratio,kl_base,kl_cross,kl_orthogonal", resumingLogs, keep: r => long.Parse(r[0]) < state.GlobalStep);
            noise = config.NoiseInterval > 0 ? new CsvLog(Path.Combine(runDir, "noise.csv"), NoiseLog.Header, resumingLogs, keep: r => long.Parse(r[0]) < state.GlobalStep) : null;
            // An evaluation row names the steps done when it was made, so the checkpoint's own step is kept.
            evals = config.EvalEveryStepAbove is not null ? new CsvLog(Path.Combine(runDir, "evals.csv"), EvalLog.Header, resumingLogs, keep: r => long.Parse(r[0]) <= state.GlobalStep) : null;

            feed = new BatchFeed(data.Train, config, device);
            baseLr = config.ScaledLr;
            startSeconds = state.TrainSeconds + state.EvalSeconds;
            warningsSeen = state.Warnings.ToHashSet();
            }
            catch
            {
                // A session that could not open leaves no temporary folder behind (Dispose will not run).
                if (scratch is not null) Distributed.MpiCommunicator.Forget(scratch);
                throw;
            }
        }

        /// <summary>Deletes temporary rank folders whose process no longer runs (killed by mpirun before its own clean-up).</summary>
        static void RemoveOrphanedScratch()
        {
            if (!OperatingSystem.IsLinux()) return;   // process liveness is read from /proc
            foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), "fop-rank*-*-*"))
            {
                var parts = Path.GetFileName(dir).Split('-');
                if (parts.Length >= 4 && int.TryParse(parts[2], out int pid) && !Directory.Exists($"/proc/{pid}"))
                    try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }

        /// <summary>
        /// A resume that finds no checkpoint starts from the beginning, and says so; but a folder whose logs show finished
        /// epochs had a checkpoint that is gone, and starting again would silently replace a run: that is refused.
        /// </summary>
        void CheckNothingToResume(string runDir)
        {
            var metricsPath = Path.Combine(runDir, "metrics.csv");
            bool finishedEpochs = File.Exists(Path.Combine(runDir, "summary.json"))
                || (File.Exists(metricsPath) && File.ReadLines(metricsPath).Skip(1).Any(l => l.Length > 0));
            if (finishedEpochs)
                throw new InvalidDataException($"{Path.Combine(runDir, "checkpoint.bin")}: missing, but the run's logs show finished epochs, so it cannot be resumed. " +
                    "Restore the checkpoint, or start the run afresh with --overwrite (its logs are replaced).");
            trainer.OnMessage?.Invoke($"no checkpoint in {runDir} yet: starting from the beginning.");
        }

        /// <summary>The current epoch's remaining steps in its seeded order; why they ended.</summary>
        public EpochEnd TrainEpoch()
        {
            model.train();
            using var permutation = feed.Permutation(State.Epoch);
            while (State.StepInEpoch < stepsPerEpoch)
            {
                if (config.MaxSteps > 0 && State.GlobalStep >= config.MaxSteps) return EpochEnd.MaxSteps;
                if (TrainStep(permutation) is { } end) return end;
            }
            return EpochEnd.Completed;
        }

        /// <summary>One optimizer step with its logs, progress and periodic checkpoint; a reason to end the epoch, or null to go on.</summary>
        EpochEnd? TrainStep(Tensor permutation)
        {
            using var scope = torch.NewDisposeScope();
            double lr = baseLr * scheduler.Factor(State.Epoch + State.StepInEpoch / (double)stepsPerEpoch);
            // Training time counts the batch's preparation (or the wait for it) and ends when the device has finished the step.
            var sw = Stopwatch.StartNew();
            var syncsBefore = Devices.DeviceSyncs.Counts;
            if (parallel is not null) Io.FaultInjection.BeforeStep(parallel.Rank, State.GlobalStep);
            var (x, y) = feed.Get(State.Epoch, State.StepInEpoch, permutation, stepsPerEpoch);
            using var batchX = x;
            using var batchY = y;
            using var before = noise is not null && optimizer.StepCount % config.NoiseInterval == 0 ? Diagnostics.ParameterVector.Of(model) : null;
            var result = optimizer.Step(x, y, lr);
            DeviceChoice.Synchronize(device);
            double ms = sw.Elapsed.TotalMilliseconds;
            stepSyncs = Devices.DeviceSyncs.Counts - syncsBefore;
            State.TrainSeconds += ms / 1000;
            RecentStepTimes.Add(State.StepMs, ms);

            if (result.Skipped)
            {
                State.SkippedSteps++;
                trainer.OnMessage?.Invoke($"step {State.GlobalStep}: {result.Message}");
                if (++consecutiveSkips >= MaxConsecutiveSkips)
                {
                    // A diverged run is a result (sweeps at large learning rates expect some), not a crash: it ends with a summary.
                    State.Diverged = $"{MaxConsecutiveSkips} consecutive steps had non-finite loss or gradients (last at step {State.GlobalStep}); the run diverged. Lower the learning rate or raise damping.";
                    trainer.OnMessage?.Invoke(State.Diverged);
                    State.GlobalStep++;
                    return EpochEnd.Diverged;
                }
            }
            else
            {
                consecutiveSkips = 0;
                State.EpochLossSum += result.LossSum;
                State.EpochCorrect += result.Correct;
                State.EpochExamples += result.Examples;
            }
            if (noise is not null && result.Noise is { } estimates && before is not null) LogNoise(result, estimates, before, x, y);
            LogStep(result, lr, ms);
            Progress();
            State.GlobalStep++;
            State.StepInEpoch++;
            stepsThisProcess++;
            // The epoch's last step (and the last of max_steps) is evaluated by EndEpoch; evaluating it here too would log it twice.
            bool endEvaluates = State.StepInEpoch >= stepsPerEpoch || (config.MaxSteps > 0 && State.GlobalStep >= config.MaxSteps);
            if (State.EveryStep && !endEvaluates) EvaluateAfterStep();

            bool killed = trainer.StopAfterSteps is long stop && stepsThisProcess >= stop;
            if (killed || (config.CheckpointEverySteps > 0 && State.GlobalStep % config.CheckpointEverySteps == 0)) SaveCheckpoint();
            return killed ? EpochEnd.Stopped : null;
        }

        /// <summary>Validation between two steps (eval_every_step_above in force): logged, and the target checked; nothing else reads it.</summary>
        void EvaluateAfterStep()
        {
            var evalClock = Stopwatch.StartNew();
            var (loss, accuracy) = Evaluate(model, trainer.data.Validation!, config.EvalBatchSize, device);
            if (parallel is not null)
            {
                var root = parallel.FromRoot(loss, accuracy);
                (loss, accuracy) = (root[0], root[1]);
            }
            State.EvalSeconds += evalClock.Elapsed.TotalSeconds;
            NoteTarget(accuracy);
            NoteEvaluation(loss, accuracy);
        }

        /// <summary>The first evaluation at or above the target fixes the steps to it (epoch ends and evaluations between steps alike).</summary>
        void NoteTarget(double decisionAccuracy)
        {
            if (config.TargetAccuracy is double target && State.StepsToTarget is null && decisionAccuracy >= target) State.StepsToTarget = State.GlobalStep;
        }

        /// <summary>
        /// Switches evaluation after every step on (validation reached eval_every_step_above) and off (it reached
        /// eval_every_step_until), logging every evaluation from the one that switched it on to the one that switched it off.
        /// Only evals.csv and the steps to target read these evaluations: best accuracy, the schedule and the stopping rules
        /// stay on epoch ends, so runs with and without it are compared on the same footing.
        /// </summary>
        void NoteEvaluation(double valLoss, double valAccuracy)
        {
            if (config.EvalEveryStepAbove is not double above || double.IsNaN(valAccuracy)) return;
            bool log = State.EveryStep || (!State.EveryStepEnded && valAccuracy >= above);
            if (!State.EveryStepEnded && valAccuracy >= above) State.EveryStep = true;
            if (State.EveryStep && config.EvalEveryStepUntil is double until && valAccuracy >= until) (State.EveryStep, State.EveryStepEnded) = (false, true);
            if (log) evals!.Append(EvalLog.Row(new Evaluation(State.GlobalStep, State.Epoch + 1, State.TrainSeconds, valLoss, valAccuracy)));
        }

        void LogNoise(StepResult result, IReadOnlyList<(string Layer, Diagnostics.NoiseEstimate Estimate)> estimates, Diagnostics.ParameterVector before, Tensor x, Tensor y)
        {
            using var now = Diagnostics.ParameterVector.Of(model);
            using var update = now.Combine(1, before, -1);
            using var travelled = now.Combine(1, initial!, -1);
            double alpha = Diagnostics.StepAlpha.Compute(result.Loss, LossAndSlope(model, x, y, update, config.MicroBatchSize, out var slope), slope);
            foreach (var row in NoiseLog.Rows(State.GlobalStep, State.Epoch + 1, estimates, update.Norm(), travelled.Norm(), alpha)) noise!.Append(row);
        }

        void LogStep(StepResult result, double lr, double ms)
        {
            var fd = result.Fop;
            steps.Append([LogCells.Int(State.GlobalStep), LogCells.Int(State.Epoch + 1), LogCells.G(lr), LogCells.G(result.Loss),
                LogCells.G(result.Correct / (double)Math.Max(1, result.Examples)), LogCells.Fixed(ms, 1), result.Skipped ? "1" : "0", LogCells.G(fd?.MeanBeta),
                LogCells.G(fd?.MeanEta), LogCells.G(fd?.MeanS), LogCells.G(fd?.CosG1G2), LogCells.G(fd?.MeanPerpRatio), LogCells.G(fd?.KlBase),
                LogCells.G(fd?.KlCross), LogCells.G(fd?.KlOrthogonal), LogCells.G(result.KlClipFactor)]);
            if (fd is null) return;
            foreach (var l in fd.Layers)
                layers.Append([LogCells.Int(State.GlobalStep), l.Layer, LogCells.G(l.S), LogCells.G(l.Beta), LogCells.G(l.Eta), LogCells.G(l.CosG1G2),
                    LogCells.G(l.PerpRatio), LogCells.G(l.KlBase), LogCells.G(l.KlCross), LogCells.G(l.KlOrthogonal)]);
        }

        void Progress()
        {
            if (trainer.OnProgress is null) return;
            double elapsed = clock.Elapsed.TotalSeconds;
            long totalSteps = (long)config.Epochs * stepsPerEpoch;
            if (config.MaxSteps > 0) totalSteps = Math.Min(totalSteps, config.MaxSteps);
            double rate = elapsed / (stepsThisProcess + 1);
            trainer.OnProgress(new TrainingProgress(State.Epoch + 1, config.Epochs, State.StepInEpoch + 1, stepsPerEpoch, State.GlobalStep + 1,
                State.EpochLossSum / Math.Max(1, State.EpochExamples), State.EpochCorrect / (double)Math.Max(1, State.EpochExamples), State.LastTestAccuracy,
                TimeSpan.FromSeconds(startSeconds + elapsed), TimeSpan.FromSeconds(rate * Math.Max(0, totalSteps - State.GlobalStep - 1)), stepSyncs));
        }

        /// <summary>Evaluates, logs the epoch, checks target and abandonment, moves to the next epoch and checkpoints there; true when the run is done.</summary>
        public bool EndEpoch(bool maxStepsReached)
        {
            var evalClock = Stopwatch.StartNew();
            var (testLoss, testAccuracy) = Evaluate(model, trainer.data.Test, config.EvalBatchSize, device);
            var (valLoss, valAccuracy) = trainer.data.Validation is { } validation ? Evaluate(model, validation, config.EvalBatchSize, device) : (double.NaN, double.NaN);
            // The replicas are identical; rank 0's numbers decide on every rank, so no rounding difference can split the job.
            if (parallel is not null)
            {
                var root = parallel.FromRoot(testLoss, testAccuracy, valLoss, valAccuracy);
                (testLoss, testAccuracy, valLoss, valAccuracy) = (root[0], root[1], root[2], root[3]);
            }
            State.EvalSeconds += evalClock.Elapsed.TotalSeconds;
            if (!double.IsNaN(valAccuracy))
            {
                State.LastValAccuracy = valAccuracy;
                State.BestValAccuracy = double.IsNaN(State.BestValAccuracy) ? valAccuracy : Math.Max(State.BestValAccuracy, valAccuracy);
            }
            // With a validation split every in-run decision (plateau schedule, target, stall rule) reads validation, so test is only reported.
            bool onValidation = !double.IsNaN(valAccuracy);
            double decisionAccuracy = onValidation ? valAccuracy : testAccuracy;
            scheduler.EndEpoch(decisionAccuracy);
            State.LastTestAccuracy = testAccuracy;
            State.BestTestAccuracy = Math.Max(State.BestTestAccuracy, testAccuracy);
            double bestDecision = onValidation ? State.BestValAccuracy : State.BestTestAccuracy;
            string decidedOn = onValidation ? "validation" : "test";
            double epochLr = baseLr * scheduler.Factor(State.Epoch + 1);
            metrics.Append(new EpochMetrics(State.Epoch + 1, State.GlobalStep, epochLr, State.EpochLossSum / Math.Max(1, State.EpochExamples),
                State.EpochCorrect / (double)Math.Max(1, State.EpochExamples), testLoss, testAccuracy, State.TrainSeconds, State.EvalSeconds, State.SkippedSteps, valLoss, valAccuracy).Cells());
            if (config.TargetAccuracy is double target && State.TimeToTarget is null && decisionAccuracy >= target)
                State.TimeToTarget = new TimeToTarget(State.Epoch + 1, State.TrainSeconds, State.TrainSeconds + State.EvalSeconds);
            NoteTarget(decisionAccuracy);
            NoteEvaluation(valLoss, valAccuracy);
            if (config.AbandonBelow is double floor && AbandonCheckDue() && bestDecision < floor)
            {
                // Sweeps at large learning rates produce runs stuck at chance that never diverge to NaN; their budget is better spent elsewhere.
                State.Diverged = $"stalled: best {decidedOn} accuracy {bestDecision:P2} still below {floor:P2} after {State.Epoch + 1} epochs ({State.GlobalStep} steps); abandoned.";
                trainer.OnMessage?.Invoke(State.Diverged);
            }
            State.Epoch++;
            State.StepInEpoch = 0;
            State.EpochLossSum = 0;
            State.EpochCorrect = State.EpochExamples = 0;
            SaveCheckpoint();
            return (config.StopAtTarget && State.TimeToTarget is not null) || maxStepsReached || State.Diverged is not null;
        }

        /// <summary>Whether the stall rule applies at the end of this epoch: after abandon_after_epochs, or that many steps past the warm-up.</summary>
        bool AbandonCheckDue() => config.AbandonAfterStepsPastWarmup is int steps
            ? State.GlobalStep >= scheduler.WarmupEpochs * stepsPerEpoch + steps
            : State.Epoch + 1 >= config.AbandonAfterEpochs;

        /// <summary>Writes the checkpoint of the current position, after the logs (once a checkpoint names a step, every row up to it is on disk).</summary>
        void SaveCheckpoint()
        {
            (State.PlateauFactor, State.PlateauBest, State.PlateauBad) = scheduler.PlateauState;
            foreach (var w in optimizer.Warnings) if (warningsSeen.Add(w)) { State.Warnings.Add(w); trainer.OnMessage?.Invoke(w); }
            optimizer.Warnings.Clear();
            metrics.Flush(); steps.Flush(); layers.Flush(); noise?.Flush(); evals?.Flush();
            var optimizerState = optimizer.StateDict();
            Checkpoint.Save(checkpointPath, JsonSerializer.Serialize(State, StateJson), model.state_dict(), optimizerState);
        }

        /// <summary>The run's summary, written to summary.json unless the process was stopped as if killed.</summary>
        public RunSummary Summary(bool stopped)
        {
            var summary = new RunSummary
            {
                Name = config.Name, Optimizer = config.OptimizerName, Model = config.ModelName, BatchSize = config.BatchSize, Lr = baseLr, Seed = config.Seed,
                EpochsRun = Math.Min(State.Epoch, config.Epochs), Steps = State.GlobalStep,
                // A run that ended before its first evaluation has no accuracy to report, not an accuracy of 0.
                BestTestAccuracy = State.LastTestAccuracy is null ? double.NaN : State.BestTestAccuracy,
                FinalTestAccuracy = State.LastTestAccuracy ?? double.NaN, BestValAccuracy = State.BestValAccuracy, FinalValAccuracy = State.LastValAccuracy ?? double.NaN, TargetAccuracy = config.TargetAccuracy, TimeToTarget = State.TimeToTarget, StepsToTarget = State.StepsToTarget,
                TrainSeconds = State.TrainSeconds, EvalSeconds = State.EvalSeconds, MedianStepMs = RecentStepTimes.Median(State.StepMs),
                SkippedSteps = State.SkippedSteps, PreconditionedParameters = optimizer.PreconditionedParameters, Warnings = State.Warnings,
                Completed = !stopped && State.Diverged is null && State.Epoch >= config.Epochs, Diverged = State.Diverged, Device = device.type.ToString().ToLowerInvariant(),
            };
            if (!stopped) RunJson.Write(Path.Combine(Path.GetDirectoryName(checkpointPath)!, "summary.json"), summary);
            return summary;
        }

        public void Dispose()
        {
            feed.Dispose();
            evals?.Dispose();
            noise?.Dispose();
            layers.Dispose();
            steps.Dispose();
            metrics.Dispose();
            initial?.Dispose();
            optimizer.Dispose();
            if (scratch is not null) Distributed.MpiCommunicator.Forget(scratch);
        }
    }
}
