using Fop.Research.Diagnostics;
using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Optim;

/// <summary>
/// Shampoo (Gupta et al. 2018) as Distributed Shampoo defines it (see <see cref="ShampooOptions"/>): grafting statistics
/// and filtered gradient -> factors L, R per block -> inverse 4th roots when due -> L^-1/4 M R^-1/4 grafted to the
/// grafting direction's norm -> decoupled weight decay -> step. Weights of two or more dimensions are matrices
/// (<see cref="MatrixView"/>: a conv kernel is (out, in*kh*kw)); 1-D parameters step with the grafting method alone.
/// The step reads the host once, root steps included: the roots are computed on the device from the proposed factors.
/// </summary>
public sealed class Shampoo : MatrixOptimizer
{
    readonly ShampooOptions options;
    readonly MatrixBlocks?[] blocks;

    /// <summary>Creates Shampoo for <paramref name="model"/>; invalid options throw here.</summary>
    public Shampoo(Module<Tensor, Tensor> model, ShampooOptions options, Likelihood? likelihood = null, int microBatchSize = 0, double? gradClip = null)
        : base("shampoo", model, likelihood, microBatchSize, gradClip)
    {
        options.Validate();
        this.options = options;
        blocks = Parameters.Select(p => MatrixView.IsMatrix(p.Parameter)
            ? new MatrixBlocks(p.Parameter.shape[0], p.Parameter.numel() / p.Parameter.shape[0], options.MaxPreconditionerDim) : null).ToArray();
    }

    /// <summary>The options in force.</summary>
    public ShampooOptions Options => options;

    /// <inheritdoc />
    public override IReadOnlyList<string> PreconditionedParameters => Parameters.Where((_, i) => blocks[i] is not null).Select(p => p.Name).ToList();

    /// <inheritdoc />
    private protected override Proposal Propose(IReadOnlyList<Tensor> gradients, long step)
    {
        var o = options;
        bool useShampoo = step >= o.StartPreconditioningStep;
        bool rootsDue = step == o.StartPreconditioningStep || (step > o.StartPreconditioningStep && step % o.PreconditionFrequency == 0);
        double c1 = o.Beta1 > 0 ? AdamMoments.Correction(o.Beta1, step) : 1;
        double factorCorrection = o.Beta2 < 1 ? AdamMoments.Correction(o.Beta2, step) : 1;
        double graftCorrection = o.Grafting == GraftingMethod.Adam ? AdamMoments.Correction(o.GraftingBeta2, step) : 1;
        var next = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var updates = new List<ParameterUpdate>(Parameters.Count);
        for (int i = 0; i < Parameters.Count; i++)
        {
            var name = Parameters[i].Name;
            var g = gradients[i];

            // Grafting statistics from the raw gradient; the filtered gradient M (an EMA of gradients) feeds both directions.
            var squared = g * g;
            var v = next[Key("graft", name)] = o.Grafting == GraftingMethod.Adam
                ? AdamMoments.Ema(State(Key("graft", name)), squared, o.GraftingBeta2)
                : AdamMoments.Sum(State(Key("graft", name)), squared);
            var m = g;
            if (o.Beta1 > 0) m = next[Key("m", name)] = AdamMoments.Ema(State(Key("m", name)), g, o.Beta1);
            var graft = AdamMoments.Direction(m, v, c1, graftCorrection, o.GraftingEps);
            if (blocks[i] is not { } parts)
            {
                updates.Add(new(graft, 1, o.WeightDecay));
                continue;
            }

            // Factors every step; roots when due (from the proposed factors, bias-corrected).
            var gradientBlocks = parts.Split(MatrixView.Of(g));
            var roots = new (Tensor Left, Tensor Right)?[parts.Count];
            using (PhaseTimer.Time(Timer, StepPhase.Curvature))
                for (int b = 0; b < parts.Count; b++)
                {
                    var gb = gradientBlocks[b];
                    var left = next[Key("L", name, b)] = Accumulate(State(Key("L", name, b)), gb.mm(gb.t()));
                    var right = next[Key("R", name, b)] = Accumulate(State(Key("R", name, b)), gb.t().mm(gb));
                    if (!useShampoo) continue;
                    if (rootsDue || State(Key("L_root", name, b)) is null)
                        roots[b] = (next[Key("L_root", name, b)] = Root(left, factorCorrection, Key("L_root", name, b)),
                                    next[Key("R_root", name, b)] = Root(right, factorCorrection, Key("R_root", name, b)));
                    else roots[b] = (State(Key("L_root", name, b))!, State(Key("R_root", name, b))!);
                }
            if (!useShampoo)
            {
                updates.Add(new(graft, 1, o.WeightDecay));
                continue;
            }

            // Direction: L^-1/4 M R^-1/4 per block, with the norm of the grafting direction's block.
            var filtered = parts.Split(MatrixView.Of(m / c1));
            var grafted = parts.Split(MatrixView.Of(graft));
            var directions = new Tensor[parts.Count];
            for (int b = 0; b < parts.Count; b++)
            {
                var (l, r) = roots[b]!.Value;
                var d = l.mm(filtered[b]).mm(r);
                directions[b] = d * (grafted[b].norm() / (d.norm() + 1e-16));
            }
            updates.Add(new(parts.Join(directions), 1, o.WeightDecay));
        }
        return new Proposal(updates, next);
    }

    /// <summary>beta2 * factor + (1 - beta2) * outer, or the sum when beta2 is 1.</summary>
    Tensor Accumulate(Tensor? factor, Tensor outer) =>
        options.Beta2 < 1 ? AdamMoments.Ema(factor, outer, options.Beta2) : AdamMoments.Sum(factor, outer);

    /// <summary>
    /// The inverse 4th root (exponent 1/(2 order), order 2) of a bias-corrected factor. A non-finite factor is swapped for
    /// the identity first, on the device: the step is refused by its finite check anyway, and eigh never sees NaN. Should
    /// eigh fail, the root under <paramref name="key"/> is kept (the identity before the first), with a warning.
    /// </summary>
    Tensor Root(Tensor factor, double correction, string key)
    {
        using var scope = torch.NewDisposeScope();
        var corrected = factor / correction;
        var identity = torch.eye(factor.shape[0], dtype: factor.dtype, device: factor.device);
        var safe = torch.where(corrected.isfinite().all(), corrected, identity);
        try { return SymmetricMatrixFunctions.InverseRoot(safe, 4, options.Epsilon).MoveToOuterDisposeScope(); }
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            Warnings.Add($"shampoo step {StepCount}: the inverse root of {key} failed ({e.Message.Split('\n')[0]}); the previous root is kept.");
            return (State(key)?.clone() ?? identity).MoveToOuterDisposeScope();
        }
    }
}
