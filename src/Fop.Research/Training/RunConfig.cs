using System.Text.Json.Serialization;
using Fop.Research.Data;
using Fop.Research.Models;
using Fop.Research.Optim;

namespace Fop.Research.Training;

/// <summary>
/// Everything that defines one training run. Loaded from JSON (snake_case keys; unknown keys are errors) with
/// <c>--set key=value</c> overrides checked against this record, validated before anything runs, and written
/// next to the results as config.json.
/// </summary>
public sealed record RunConfig
{
    /// <summary>Run name (folder name under <see cref="OutputDir"/>).</summary>
    public string Name { get; init; } = "run";
    /// <summary>fashion-mnist, cifar10, cifar100, imagenet100 or imagefolder.</summary>
    public DatasetKind Dataset { get; init; } = DatasetKind.FashionMnist;
    /// <summary>Folder to look in first for the data set files.</summary>
    public string? DataDir { get; init; }
    /// <summary>Long-tailed training set with this imbalance factor (1: balanced). The test set stays balanced.</summary>
    public double ImbalanceFactor { get; init; } = 1;
    /// <summary>Use only the first N training examples (0: all); for smoke tests.</summary>
    public int TrainSubset { get; init; }
    /// <summary>Use only the first N test examples (0: all); for smoke tests.</summary>
    public int TestSubset { get; init; }
    /// <summary>Image side for image-folder data sets (stored and cropped size).</summary>
    public int ImageSize { get; init; } = 224;
    /// <summary>Model: mlp, smallcnn, smallcnn-bn (BatchNorm after each conv), resnet18, resnet32, resnet50, vit.</summary>
    public ModelKind Model { get; init; } = ModelKind.SmallCnn;
    /// <summary>Hidden widths of the MLP.</summary>
    public int[] MlpHidden { get; init; } = [512, 256];
    /// <summary>sgd, adamw, kfac, fop, shampoo, soap or muon.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;
    /// <summary>Base learning rate (before linear scaling and schedule).</summary>
    public double Lr { get; init; } = 0.05;
    /// <summary>If set, lr is scaled by batch_size / base_batch_size (linear scaling rule).</summary>
    public int? BaseBatchSize { get; init; }
    /// <summary>Logical batch size (examples per optimizer step).</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Largest chunk run through forward/backward at once (0: the whole batch); gradients accumulate.</summary>
    public int MicroBatchSize { get; init; }
    /// <summary>When BatchNorm running statistics change: per_step (once per optimizer step, the mean of its chunks') or per_chunk (every forward, as PyTorch).</summary>
    public Models.RunningStatistics BatchNormRunningStats { get; init; } = Models.RunningStatistics.PerStep;
    /// <summary>What a streamed image folder does with a file it cannot decode: error (stop, naming it) or skip (leave it out, one warning naming it).</summary>
    public Data.CorruptImages CorruptImages { get; init; } = Data.CorruptImages.Error;
    /// <summary>Training examples held out as a validation split (stratified by class, drawn with <see cref="ValidationSeed"/>; 0: none). Evaluated every epoch beside the test set.</summary>
    public int ValidationExamples { get; init; }
    /// <summary>Seed of the validation split: fixed across a study's runs, so every run is tuned on the same examples.</summary>
    public long ValidationSeed { get; init; }
    /// <summary>Batch size for evaluation.</summary>
    public int EvalBatchSize { get; init; } = 2000;
    /// <summary>Epoch budget.</summary>
    public int Epochs { get; init; } = 2;
    /// <summary>Stop after this many optimizer steps in total (0: no limit); for benchmarks and smoke tests.</summary>
    public int MaxSteps { get; init; }
    /// <summary>Learning-rate schedule.</summary>
    public LrSchedule Schedule { get; init; } = new();
    /// <summary>SGD settings (also the momentum/weight-decay tail of KFAC and FOP).</summary>
    public SgdOptions Sgd { get; init; } = SgdOptions.Paper;
    /// <summary>AdamW settings (also the rule for unpreconditioned parameters when kfac.unpreconditioned is adamw).</summary>
    [JsonPropertyName("adamw")]
    public AdamWOptions AdamW { get; init; } = AdamWOptions.Default;
    /// <summary>KFAC settings (also FOP's curvature base).</summary>
    public KfacOptions Kfac { get; init; } = KfacOptions.Paper;
    /// <summary>FOP switches.</summary>
    public FopOptions Fop { get; init; } = FopOptions.Paper;
    /// <summary>Shampoo settings (Distributed Shampoo's definitions).</summary>
    public ShampooOptions Shampoo { get; init; } = ShampooOptions.Default;
    /// <summary>SOAP settings.</summary>
    public SoapOptions Soap { get; init; } = SoapOptions.Default;
    /// <summary>Muon settings (and its AdamW for 1-D parameters).</summary>
    public MuonOptions Muon { get; init; } = MuonOptions.Default;
    /// <summary>Clip the global norm of the update directions (null: off).</summary>
    public double? GradClip { get; init; }
    /// <summary>Training augmentation.</summary>
    public Augmentation Augment { get; init; } = Augmentation.None;
    /// <summary>Accuracy (0-1) whose first crossing defines time-to-target: validation accuracy with a validation split, else test (null: none).</summary>
    public double? TargetAccuracy { get; init; }
    /// <summary>End the run at the first epoch that reaches the target.</summary>
    public bool StopAtTarget { get; init; }
    /// <summary>Once validation accuracy has reached this (0-1), validation is also evaluated after every step and logged to evals.csv, so time to a target is known to the step (null: at epoch ends only). Needs a validation split; never changes the trajectory.</summary>
    public double? EvalEveryStepAbove { get; init; }
    /// <summary>Evaluation after every step stops once an evaluation reaches this (0-1; null: it goes on to the end), sparing the evaluations past the highest target of interest.</summary>
    public double? EvalEveryStepUntil { get; init; }
    /// <summary>End the run as stalled when its best accuracy (validation with a validation split, else test) is still below this after <see cref="AbandonAfterEpochs"/> epochs (null: never).</summary>
    public double? AbandonBelow { get; init; }
    /// <summary>Epochs after which <see cref="AbandonBelow"/> is checked.</summary>
    public int AbandonAfterEpochs { get; init; } = 5;
    /// <summary>If set, <see cref="AbandonBelow"/> is checked instead once this many steps have passed after the warm-up (so a full-batch run is judged on steps, not epochs).</summary>
    public int? AbandonAfterStepsPastWarmup { get; init; }
    /// <summary>Seed of initialisation, data order, augmentation and Monte-Carlo labels.</summary>
    public long Seed { get; init; }
    /// <summary>cpu, cuda or auto.</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>Allow TensorFloat-32 matmuls and convolutions on CUDA (default false: full float32, what CPU/CUDA agreement assumes; no effect on the CPU).</summary>
    public bool Tf32 { get; init; }
    /// <summary>Intra-op threads (0: libtorch's default).</summary>
    public int Threads { get; init; }
    /// <summary>Also checkpoint every N steps (0: only at the end of each epoch).</summary>
    public int CheckpointEverySteps { get; init; }
    /// <summary>Log gradient-noise statistics (noise.csv) every this many steps (0: off); free for FOP, two extra backward passes otherwise.</summary>
    public int NoiseInterval { get; init; }
    /// <summary>Root folder of run folders.</summary>
    public string OutputDir { get; init; } = "runs";

    /// <summary>The optimizer's name as configs and run records write it (sgd, adamw, kfac, fop, shampoo, soap, muon).</summary>
    [JsonIgnore]
    public string OptimizerName => Io.ConfigNames.Of(Optimizer);
    /// <summary>The model's name as configs and run records write it.</summary>
    [JsonIgnore]
    public string ModelName => Io.ConfigNames.Of(Model);
    /// <summary>The data set's name as configs write it.</summary>
    [JsonIgnore]
    public string DatasetName => Io.ConfigNames.Of(Dataset);

    /// <summary>The learning rate after the linear scaling rule.</summary>
    [JsonIgnore]
    public double ScaledLr => LinearScaling.Apply(Lr, BatchSize, BaseBatchSize);

    /// <summary>What KFAC and FOP apply after preconditioning: this run's sgd, adamw and grad_clip (held once, here).</summary>
    [JsonIgnore]
    public TailOptions Tail => new(Sgd, AdamW, GradClip);

    /// <summary>Settings that are valid but have no effect in this combination (a likely mistake worth a warning).</summary>
    public IReadOnlyList<string> Warnings()
    {
        var w = new List<string>();
        var defaults = FopOptions.Paper;
        if (Optimizer == OptimizerKind.Fop)
        {
            if (Fop.Beta == BetaRule.Adaptive && Fop.FixedBeta != defaults.FixedBeta) w.Add($"fop.fixed_beta = {Fop.FixedBeta} has no effect with fop.beta = adaptive (set fop.beta=fixed to use it).");
            if (!Fop.LayerScale && (Fop.EtaMin is not null || Fop.EtaMax is not null)) w.Add("fop.eta_min / fop.eta_max have no effect with fop.layer_scale = false.");
            if (!Fop.LayerScale && Fop.EtaReference != defaults.EtaReference) w.Add("fop.eta_reference has no effect with fop.layer_scale = false.");
            if (!Fop.Projection && (Fop.Beta != defaults.Beta || Fop.DampedProjection != defaults.DampedProjection || Fop.Eps != defaults.Eps))
                w.Add("fop.beta, fop.damped_projection and fop.eps have no effect with fop.projection = false.");
        }
        else if (Json(Fop) != Json(defaults)) w.Add($"fop.* settings have no effect with optimizer = {OptimizerName}.");
        if (Optimizer is not (OptimizerKind.Kfac or OptimizerKind.Fop) && Json(Kfac) != Json(KfacOptions.Paper)) w.Add($"kfac.* settings have no effect with optimizer = {OptimizerName}.");
        if (Optimizer != OptimizerKind.Shampoo && Json(Shampoo) != Json(ShampooOptions.Default)) w.Add($"shampoo.* settings have no effect with optimizer = {OptimizerName}.");
        if (Optimizer != OptimizerKind.Soap && Json(Soap) != Json(SoapOptions.Default)) w.Add($"soap.* settings have no effect with optimizer = {OptimizerName}.");
        if (Optimizer != OptimizerKind.Muon && Json(Muon) != Json(MuonOptions.Default)) w.Add($"muon.* settings have no effect with optimizer = {OptimizerName}.");
        if (MicroBatchSize >= BatchSize && MicroBatchSize > 0) w.Add($"micro_batch_size {MicroBatchSize} >= batch_size {BatchSize}: every batch runs in one piece.");
        if (StopAtTarget && TargetAccuracy is null) w.Add("stop_at_target has no effect without target_accuracy.");
        if (BaseBatchSize is null && BatchSize > 1024 && Lr == new RunConfig().Lr) w.Add($"batch_size {BatchSize} with the default lr and no base_batch_size: the learning rate is not scaled.");
        return w;
    }

    static string Json<T>(T value) => System.Text.Json.JsonSerializer.Serialize(value, ConfigFile.Json);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public RunConfig Validate()
    {
        if (string.IsNullOrWhiteSpace(Name) || Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0) throw new ArgumentException($"name '{Name}' is not a valid folder name.");
        if (!Enum.IsDefined(Dataset)) throw new ArgumentOutOfRangeException(nameof(Dataset), Dataset, $"dataset must be one of {string.Join(", ", Io.ConfigNames.All<DatasetKind>())}.");
        if (!Enum.IsDefined(Model)) throw new ArgumentOutOfRangeException(nameof(Model), Model, $"model must be one of {string.Join(", ", Io.ConfigNames.All<ModelKind>())}.");
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentOutOfRangeException(nameof(Optimizer), Optimizer, $"optimizer must be one of {string.Join(", ", Io.ConfigNames.All<OptimizerKind>())}.");
        if (!(Lr > 0) || double.IsInfinity(Lr)) throw new ArgumentOutOfRangeException(nameof(Lr), Lr, "lr must be > 0.");
        if (BaseBatchSize is int bb && bb <= 0) throw new ArgumentOutOfRangeException(nameof(BaseBatchSize), bb, "base_batch_size must be > 0 or null.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "batch_size must be >= 1.");
        if (Optimizer == OptimizerKind.Fop && BatchSize < 2) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "fop needs batch_size >= 2 (two halves).");
        if (!Enum.IsDefined(CorruptImages)) throw new ArgumentOutOfRangeException(nameof(CorruptImages), CorruptImages, "corrupt_images must be error or skip.");
        if (!Enum.IsDefined(BatchNormRunningStats)) throw new ArgumentOutOfRangeException(nameof(BatchNormRunningStats), BatchNormRunningStats, "batch_norm_running_stats must be per_step or per_chunk.");
        if (ValidationExamples < 0) throw new ArgumentOutOfRangeException(nameof(ValidationExamples), ValidationExamples, "validation_examples must be >= 0.");
        if (MicroBatchSize < 0) throw new ArgumentOutOfRangeException(nameof(MicroBatchSize), MicroBatchSize, "micro_batch_size must be >= 0 (0: whole batch).");
        if (EvalBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(EvalBatchSize), EvalBatchSize, "eval_batch_size must be >= 1.");
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "epochs must be >= 1.");
        if (MaxSteps < 0) throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "max_steps must be >= 0.");
        if (!(ImbalanceFactor >= 1)) throw new ArgumentOutOfRangeException(nameof(ImbalanceFactor), ImbalanceFactor, "imbalance_factor must be >= 1.");
        if (TrainSubset < 0 || TestSubset < 0) throw new ArgumentException("train_subset and test_subset must be >= 0.");
        if (TargetAccuracy is double t && !(t > 0 && t <= 1)) throw new ArgumentOutOfRangeException(nameof(TargetAccuracy), t, "target_accuracy must lie in (0, 1].");
        if (Device is not ("cpu" or "cuda" or "auto")) throw new ArgumentException($"device '{Device}' is not cpu, cuda or auto.");
        if (Threads < 0) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "threads must be >= 0.");
        if (EvalEveryStepAbove is double above && !(above > 0 && above <= 1)) throw new ArgumentOutOfRangeException(nameof(EvalEveryStepAbove), above, "eval_every_step_above must lie in (0, 1] or be null.");
        if (EvalEveryStepUntil is double until && (EvalEveryStepAbove is not double from || !(until > from && until <= 1)))
            throw new ArgumentOutOfRangeException(nameof(EvalEveryStepUntil), until, "eval_every_step_until needs eval_every_step_above and must lie above it, at most 1.");
        // Per-step decisions on the test set would tune on it; the finely measured accuracy is the validation split's.
        if (EvalEveryStepAbove is not null && ValidationExamples <= 0) throw new ArgumentException("eval_every_step_above evaluates the validation split after every step: set validation_examples.");
        if (AbandonBelow is double ab && !(ab > 0 && ab <= 1)) throw new ArgumentOutOfRangeException(nameof(AbandonBelow), ab, "abandon_below must lie in (0, 1] or be null.");
        if (AbandonAfterStepsPastWarmup is int steps && steps < 1) throw new ArgumentOutOfRangeException(nameof(AbandonAfterStepsPastWarmup), steps, "abandon_after_steps_past_warmup must be >= 1 or null.");
        if (AbandonAfterEpochs < 1) throw new ArgumentOutOfRangeException(nameof(AbandonAfterEpochs), AbandonAfterEpochs, "abandon_after_epochs must be >= 1.");
        if (NoiseInterval < 0) throw new ArgumentOutOfRangeException(nameof(NoiseInterval), NoiseInterval, "noise_interval must be >= 0 (0: off).");
        if (CheckpointEverySteps < 0) throw new ArgumentOutOfRangeException(nameof(CheckpointEverySteps), CheckpointEverySteps, "checkpoint_every_steps must be >= 0.");
        if (Augment.CropPadding < 0) throw new ArgumentOutOfRangeException(nameof(Augment), Augment.CropPadding, "augment.crop_padding must be >= 0.");
        Schedule.Validate();
        Tail.Validate();
        // Settings are checked even where this optimizer ignores them: a bad value is a mistake whichever run it is in.
        Kfac.Validate();
        Fop.Validate();
        Shampoo.Validate();
        Soap.Validate();
        Muon.Validate();
        return this;
    }
}
