using Fop.Research.Data;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Randomness;
using Fop.Research.Devices;

namespace Fop.Research.Curvature;

/// <summary>What became of a step's curvature statistics at <see cref="KfacCurvature.EndStep"/>.</summary>
public enum CurvatureCommit
{
    /// <summary>Committed (or there were none this step).</summary>
    Committed,
    /// <summary>Discarded because the step's loss or gradients were not finite.</summary>
    GradientNotFinite,
    /// <summary>Discarded because the statistics themselves were not finite.</summary>
    StatisticsNotFinite,
}

/// <summary>
/// The curvature half of KFAC, shared by KFAC and FOP: which layers, their capture hooks, Kronecker factors and
/// preconditioners, and the schedule on which each is refreshed. One instance per optimizer.
/// </summary>
public sealed class KfacCurvature : ICurvatureRecorder, IDisposable
{
    readonly KfacOptions options;
    readonly Likelihood likelihood;
    readonly long seed;
    SeededRandom? sampler, positionSampler;
    // Random draws (labels, positions, subsets) happen where the model lives: libtorch refuses a CPU generator for GPU tensors.
    Device ModelDevice => Layers.Count > 0 ? Layers[0].Weight.device : CPU;
    List<int>? deferred;
    bool subsetStep;
    Distributed.DataParallel? parallel;

    /// <summary>Finds the layers to precondition in <paramref name="model"/> and hooks them.</summary>
    public KfacCurvature(Module model, KfacOptions options, Likelihood likelihood, long seed)
    {
        options.Validate();
        this.options = options;
        this.likelihood = likelihood;
        this.seed = seed;
        var (layers, skipped) = options.Layers.Select(model);
        if (layers.Count == 0) throw new ArgumentException("No Linear or Conv2d layer to precondition (all excluded or none in the model).");
        Layers = layers;
        Skipped = skipped;
        Capture = new CurvatureCapture(layers);
        Blocks = layers.Select(l => new CurvatureBlock(l)).ToArray();
        Factors = Blocks.Select(b => b.Factors).ToArray();
    }

    /// <summary>The preconditioned layers (sorted by name).</summary>
    public IReadOnlyList<PreconditionedLayer> Layers { get; }
    /// <summary>Weight-bearing modules that are not preconditioned, with the reason.</summary>
    public IReadOnlyList<string> Skipped { get; }
    /// <summary>The forward hooks.</summary>
    public CurvatureCapture Capture { get; }
    /// <summary>One curvature block per layer: its factors, its preconditioner and its checkpoint entries.</summary>
    public IReadOnlyList<CurvatureBlock> Blocks { get; }
    /// <summary>Kronecker factors per layer (each block's).</summary>
    public IReadOnlyList<KroneckerFactors> Factors { get; }
    /// <summary>The preconditioner of layer <paramref name="i"/> (null before the first inverse step or if it never succeeded).</summary>
    public KroneckerPreconditioner? Preconditioner(int i) => Blocks[i].Preconditioner;
    /// <summary>Names of every preconditioned parameter.</summary>
    public IReadOnlyList<string> ParameterNames(Module model)
    {
        var set = Layers.SelectMany(l => l.Parameters).ToHashSet(ReferenceEqualityComparer.Instance);
        return model.named_parameters().Where(p => set.Contains(p.parameter)).Select(p => p.name).ToList();
    }

    /// <summary>In a data-parallel job, which rank owns each layer (null: this process owns every layer).</summary>
    public Distributed.LayerOwnership? Ownership { get; private set; }

    /// <summary>Whether this process keeps layer <paramref name="i"/>'s factors, decomposes them and computes its update.</summary>
    public bool Owns(int i) => Ownership is null || Ownership.Owner(i) == parallel!.Rank;

    /// <summary>
    /// Joins a data-parallel job: layers get owners (cost-balanced); on curvature steps every rank's statistics are summed
    /// onto the owner, only owners commit and decompose, and finite checks are agreed by all ranks.
    /// </summary>
    public void Distribute(Distributed.DataParallel parallel)
    {
        this.parallel = parallel;
        Ownership = new Distributed.LayerOwnership(Layers.Select(l => (l.InDim, l.OutFeatures)).ToList(), parallel.Size);
    }

    /// <summary>Preconditioners built so far (one per layer per inverse step that had factors): a measure of decomposition work.</summary>
    public long DecompositionCount { get; private set; }

    /// <summary>Whether factors are re-estimated at optimizer step <paramref name="step"/>.</summary>
    public bool IsCurvatureStep(long step) => step % options.CurvatureInterval == 0;
    /// <summary>Whether preconditioners are rebuilt at optimizer step <paramref name="step"/>.</summary>
    public bool IsInverseStep(long step) => step % options.InverseInterval == 0;

    /// <summary>Arms or disarms capture for this step.</summary>
    public void BeginStep(long step)
    {
        if (deferred is not null) ResolveDeferred(commit: false);
        bool curvature = IsCurvatureStep(step);
        // With factor_examples the statistics come from a separate pass over a subset (GatherSubset): the main pass records nothing.
        subsetStep = curvature && options.FactorExamples is not null;
        Capture.Active = curvature && !subsetStep;
        Capture.RetainOutputGradients = Capture.Active && options.Fisher == FisherType.Empirical;
        sampler?.Dispose();
        // Labels are sampled where the outputs live (the model's device).
        sampler = curvature && options.Fisher == FisherType.MonteCarlo ? new SeededRandom(seed, RandomPurpose.MonteCarloLabels, step) : null;
        positionSampler?.Dispose();
        positionSampler = curvature && options.ConvPositions is not null ? new SeededRandom(seed, RandomPurpose.ConvPositions, step) : null;
    }

    /// <summary>
    /// On a curvature step with <c>factor_examples</c> set, gathers the factor statistics from that many examples of the
    /// batch (drawn by the seeded generator): one forward of the subset and one backward to the layer outputs only, so
    /// parameter gradients are untouched. Buffers (BatchNorm statistics) are restored afterwards. A no-op otherwise.
    /// </summary>
    public void GatherSubset(Module<Tensor, Tensor> model, Tensor inputs, Tensor targets, long step, int microBatchSize, double share = 1)
    {
        if (!subsetStep) return;
        using var scope = torch.NewDisposeScope();
        // In a job each rank draws its share of the subset from its own rows (share = its rows / the whole batch).
        long n = inputs.shape[0], m = Math.Clamp((long)Math.Ceiling(options.FactorExamples!.Value * share), 1, n);
        using var random = new SeededRandom(seed, RandomPurpose.FactorSubset, step);
        var index = random.Permutation(n, inputs.device).narrow(0, 0, m);
        var xs = inputs.index_select(0, index);
        var ys = targets.index_select(0, index);
        using var buffers = new Models.BufferSnapshot(model);
        long chunk = microBatchSize <= 0 ? m : Math.Min(m, microBatchSize);
        try
        {
            for (long start = 0; start < m; start += chunk)
            {
                using var inner = torch.NewDisposeScope();
                long size = Math.Min(chunk, m - start);
                var y = ys.narrow(0, start, size);
                Capture.Active = true;
                Capture.RetainOutputGradients = false;
                Tensor outputs;
                try { outputs = model.call(xs.narrow(0, start, size)); }
                finally { Capture.Active = false; }
                Capture.EnsureAllLayersSeen();
                var kept = Capture.AllOutputs().ToList();
                if (options.Fisher == FisherType.Exact)
                {
                    foreach (var column in likelihood.FisherSqrtColumns(outputs))
                    {
                        using var c = torch.NewDisposeScope();
                        AddOutputGradients(torch.autograd.grad([outputs], kept, [column], retain_graph: true), 1.0);
                        column.Dispose();
                    }
                }
                else
                {
                    var labels = options.Fisher == FisherType.MonteCarlo ? likelihood.Sample(outputs, sampler!) : y;
                    // The gradient of the summed per-example losses with respect to each output is each example's own gradient.
                    AddOutputGradients(torch.autograd.grad([likelihood.LossSum(outputs, labels)], kept), 1.0);
                }
                for (int i = 0; i < Layers.Count; i++)
                {
                    foreach (var input in Capture.InputsOf(i)) Factors[i].AddInputs(input, options.ConvPositions, positionSampler);
                    Factors[i].AddExamples(size);
                }
                Capture.Clear();
            }
        }
        finally { Capture.Clear(); }
    }

    /// <inheritdoc />
    public void BeforeBackward(Tensor outputs, Tensor targets)
    {
        if (!Capture.Active) return;
        Capture.EnsureAllLayersSeen();
        if (options.Fisher == FisherType.Empirical) return;
        using var scope = torch.NewDisposeScope();
        var kept = Capture.AllOutputs().ToList();
        if (options.Fisher == FisherType.MonteCarlo)
        {
            var sampled = likelihood.Sample(outputs, sampler!);
            var sampledLoss = likelihood.LossSum(outputs, sampled);
            var grads = torch.autograd.grad([sampledLoss], kept, retain_graph: true);
            AddOutputGradients(grads, 1.0);
        }
        else
        {
            foreach (var column in likelihood.FisherSqrtColumns(outputs))
            {
                using var inner = torch.NewDisposeScope();
                var grads = torch.autograd.grad([outputs], kept, [column], retain_graph: true);
                AddOutputGradients(grads, 1.0);
                column.Dispose();
            }
        }
    }

    void AddOutputGradients(IList<Tensor> grads, double multiplier)
    {
        int k = 0;
        for (int i = 0; i < Layers.Count; i++)
            foreach (var _ in Capture.OutputsOf(i)) Factors[i].AddOutputGradients(grads[k++], multiplier);
    }

    /// <inheritdoc />
    public void AfterBackward(long normalizer, long examples)
    {
        if (!Capture.Active) return;
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < Layers.Count; i++)
        {
            foreach (var input in Capture.InputsOf(i)) Factors[i].AddInputs(input, options.ConvPositions, positionSampler);
            if (options.Fisher == FisherType.Empirical)
            {
                foreach (var output in Capture.OutputsOf(i))
                {
                    using var g = output.grad ?? throw new InvalidOperationException($"{Layers[i].Name}: no output gradient was retained.");
                    Factors[i].AddOutputGradients(g, normalizer);
                }
            }
            Factors[i].AddExamples(examples);
        }
        Capture.Clear();
    }

    /// <summary>Drops this step's statistics (the step was refused).</summary>
    public void DiscardStep()
    {
        Capture.Clear();
        Capture.Active = false;
        foreach (var f in Factors) f.Discard();
        deferred = null;
    }

    /// <summary>
    /// Whether the statistics <see cref="EndStep"/> left pending are finite (a device bool scalar; true when none are
    /// pending), for the caller to read together with the rest of its step.
    /// </summary>
    public Tensor DeferredStatisticsFinite(Device device)
    {
        if (deferred is null) return torch.tensor(true, device: device);
        using var flags = PendingFiniteFlags(deferred);
        return flags.all();
    }

    /// <summary>
    /// Refuses a step whose pending statistics are not finite: finds the layers (one read, on this path only), warns,
    /// discards the step and returns what was not finite, for the step's message.
    /// </summary>
    public string RefuseDeferred(long step, List<string> warnings)
    {
        double[] flags;
        using (var f = PendingFiniteFlags(deferred ?? [])) flags = HostReads.Doubles(f);
        var bad = (deferred ?? []).Where((_, k) => flags[k] == 0).ToList();
        warnings.Add(StatisticsWarning(step, bad));
        DiscardStep();
        return "curvature statistics in " + string.Join(", ", bad.Select(i => Layers[i].Name));
    }

    // Every listed factor's "pending statistics complete and finite" flag, stacked on the device (no read).
    // In a job each rank checks the layers it owns and the ranks agree on the minimum (one small all-reduce), so every rank refuses or commits together.
    Tensor PendingFiniteFlags(IReadOnlyList<int> factors)
    {
        if (factors.Count == 0) return torch.ones(0, ScalarType.Bool, ModelDevice);
        using var scope = torch.NewDisposeScope();
        var flags = torch.stack(factors.Select(i => Owns(i) ? Factors[i].PendingFiniteFlag() : torch.tensor(true, device: ModelDevice)).ToArray());
        if (parallel is not null)
        {
            var agreed = Devices.DeviceSyncs.To(flags.to_type(ScalarType.Int64), torch.CPU);
            parallel.Communicator.AllReduceMin(agreed);
            flags = Devices.DeviceSyncs.To(agreed, ModelDevice).to_type(ScalarType.Bool);
        }
        return flags.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Sums this step's statistics over ranks onto each layer's owner (one fused reduce per owning rank, and one all-reduce
    /// of the counts); other ranks drop theirs. Every rank recorded every layer, so the calls match on all ranks.
    /// </summary>
    void ReduceStatisticsToOwners()
    {
        using var scope = torch.NewDisposeScope();
        var counts = torch.tensor(Factors.SelectMany(f => new[] { f.ScratchCounts.Rows, f.ScratchCounts.Examples }).ToArray());
        parallel!.Communicator.AllReduceSum(counts);
        var totals = counts.data<long>().ToArray();
        for (int owner = 0; owner < parallel.Size; owner++)
        {
            var layers = Ownership!.LayersOf(owner);
            if (layers.Count == 0) continue;
            var sums = layers.SelectMany(i => Factors[i].ScratchSums is (Tensor a, Tensor g) ? new[] { a, g }
                : throw new InvalidOperationException($"rank {parallel.Rank}: {Layers[i].Name} gathered no statistics on a curvature step.")).ToList();
            var buffer = Distributed.FusedBuffer.Pack(sums, sums[0].dtype);
            parallel.Communicator.ReduceSum(buffer, owner);
            if (parallel.Rank == owner) Distributed.FusedBuffer.Unpack(buffer, sums);
        }
        for (int i = 0; i < Factors.Count; i++)
            if (Owns(i)) Factors[i].SetScratchCounts(totals[2 * i], totals[2 * i + 1]);
            else Factors[i].Discard();
    }

    string StatisticsWarning(long step, IEnumerable<int> bad) =>
        $"step {step}: non-finite curvature statistics in {string.Join(", ", bad.Select(i => Layers[i].Name))}; step refused, factors unchanged.";

    /// <summary>Commits (the step went through) or discards (it was refused) the statistics <see cref="EndStep"/> left pending.</summary>
    public void ResolveDeferred(bool commit)
    {
        if (deferred is null) return;
        foreach (int i in deferred)
            if (commit && Owns(i)) Factors[i].Commit(options.EmaDecay);
            else Factors[i].Discard();
        deferred = null;
    }

    /// <summary>
    /// Commits this step's statistics (if any) and rebuilds due preconditioners at damping lambda(step). Commits nothing,
    /// and says why, when any layer's statistics or the step's gradients (<paramref name="gradientsFinite"/>, a device
    /// flag read together with the statistics' checks) are non-finite: the caller refuses the step. A failed decomposition
    /// keeps the previous preconditioner and is reported in <paramref name="warnings"/>. On a curvature step that rebuilds
    /// no preconditioner nothing here needs the new statistics (the step preconditions with the existing inverses), so
    /// they stay pending, unread: the caller reads <see cref="DeferredStatisticsFinite"/> with its step's other scalars and
    /// then calls <see cref="ResolveDeferred"/> — one read per step instead of two.
    /// </summary>
    public CurvatureCommit EndStep(long step, List<string> warnings, Tensor? gradientsFinite = null)
    {
        Capture.Active = false;
        bool recorded = Factors.Any(f => f.HasPending);
        if (parallel is not null && recorded) ReduceStatisticsToOwners();
        // In a job the list is the same on every rank (all layers), so the agreed checks below line up; only owners commit.
        var pending = parallel is not null ? (recorded ? Enumerable.Range(0, Factors.Count).ToList() : [])
            : Enumerable.Range(0, Factors.Count).Where(i => Factors[i].HasPending).ToList();
        if (pending.Count > 0 && !IsInverseStep(step))
        {
            deferred = pending;
            return CurvatureCommit.Committed;
        }
        if (pending.Count > 0)
        {
            // One read for every factor's finite check and the step's gradients (given as a device flag), so that nothing
            // commits when either is not finite. Steps that gather no statistics read nothing here.
            double[] finite;
            using (var scope = torch.NewDisposeScope())
            {
                var flags = PendingFiniteFlags(pending);
                finite = HostReads.Doubles(torch.cat([flags, (gradientsFinite ?? torch.tensor(true, device: flags.device)).reshape(1)]));
            }
            if (finite[^1] == 0)
            {
                foreach (var f in Factors) f.Discard();
                return CurvatureCommit.GradientNotFinite;
            }
            var bad = pending.Where((_, k) => finite[k] == 0).ToList();
            if (bad.Count > 0)
            {
                foreach (var f in Factors) f.Discard();
                warnings.Add(StatisticsWarning(step, bad));
                return CurvatureCommit.StatisticsNotFinite;
            }
            foreach (int i in pending.Where(Owns)) Factors[i].Commit(options.EmaDecay);
        }
        if (!IsInverseStep(step)) return CurvatureCommit.Committed;
        double damping = options.Damping.At(step);
        for (int i = 0; i < Blocks.Count; i++)
            if (Owns(i) && Blocks[i].Rebuild(options.DampingForm, damping, step, warnings)) DecompositionCount++;
        return CurvatureCommit.Committed;
    }

    /// <summary>F_damped^-1 V for layer <paramref name="i"/>; the plain V (reported) when no preconditioner exists yet.</summary>
    public Tensor Precondition(int i, Tensor v, List<string> warnings) => Blocks[i].Precondition(v, warnings);

    /// <summary>Writes factors under "curvature/" (in a job, every rank writes every layer's, gathered from the owners: a collective call).</summary>
    public void SaveState(IDictionary<string, Tensor> state)
    {
        if (parallel is not null) { GatherState(state); return; }
        foreach (var block in Blocks) block.Save(state, ModelDevice);
    }

    /// <summary>
    /// The state of every layer from its owner, as one process would write it (so a checkpoint restores on any number of
    /// ranks): which layers have factors and preconditioners (one all-reduce), then one fused float64 broadcast per owner.
    /// </summary>
    void GatherState(IDictionary<string, Tensor> state)
    {
        using var presence = torch.zeros(2L * Layers.Count, ScalarType.Int64);
        for (int i = 0; i < Layers.Count; i++)
            if (Owns(i) && Blocks[i].HasFactors)
            {
                presence[2 * i] = 1;
                if (Blocks[i].Preconditioner is not null) presence[2 * i + 1] = 1;
            }
        parallel!.Communicator.AllReduceSum(presence);
        var has = presence.data<long>().ToArray();
        var dtype = Layers[0].Weight.dtype;
        for (int owner = 0; owner < parallel.Size; owner++)
        {
            var entries = new List<(string Key, long[] Shape, Func<Tensor> Value)>();
            foreach (int i in Ownership!.LayersOf(owner).Where(i => has[2 * i] == 1))
                entries.AddRange(Blocks[i].StateEntries(has[2 * i + 1] == 1, ModelDevice));
            if (entries.Count == 0) continue;
            bool mine = owner == parallel.Rank;
            using var buffer = mine ? Distributed.FusedBuffer.Pack(entries.Select(e => e.Value()).ToList(), ScalarType.Float64)
                : torch.zeros(entries.Sum(e => e.Shape.Aggregate(1L, (x, y) => x * y)), ScalarType.Float64, ModelDevice);
            parallel.Communicator.Broadcast(buffer, owner);
            long offset = 0;
            foreach (var (key, shape, _) in entries)
            {
                long n = shape.Aggregate(1L, (x, y) => x * y);
                var value = buffer.narrow(0, offset, n).reshape(shape);
                offset += n;
                state[key] = key.EndsWith("updates", StringComparison.Ordinal) ? value.to_type(ScalarType.Int64).cpu()
                    : key.EndsWith("damping", StringComparison.Ordinal) ? value.cpu() : value.to_type(dtype).clone();
            }
        }
    }

    /// <summary>Restores factors and rebuilds the preconditioners they had (same damping), so the next steps match exactly; in a job, only the layers this rank owns.</summary>
    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        for (int i = 0; i < Blocks.Count; i++)
            if (Owns(i)) Blocks[i].Load(state, options.DampingForm);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Capture.Dispose();
        foreach (var b in Blocks) b.Dispose();
        sampler?.Dispose();
        positionSampler?.Dispose();
    }
}
