using Fop.Research.Diagnostics;
using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Optim;

/// <summary>
/// SOAP (see <see cref="SoapOptions"/>): rotate the gradient and first moment into the factors' eigenbasis -> Adam there
/// (second moment in the rotated space) -> rotate back -> decoupled weight decay -> step; then update L and R with the
/// gradient, and after step 1 and every k-th step recompute the eigenbases, so a step never projects with its own
/// gradient (the reference's order). Weights of two or more dimensions are matrices (<see cref="MatrixView"/>: a conv
/// kernel is (out, in*kh*kw)); 1-D parameters run plain Adam. Differences from the reference code, each so that the
/// identity basis is AdamW exactly: step 1 is taken (with the identity basis, as no basis exists yet) instead of
/// skipped; eps is added after the bias-corrected root and weight decay is applied before the update, as PyTorch's
/// AdamW does; bases are recomputed by eigh (as Distributed Shampoo's eigenvalue-corrected Shampoo does by default)
/// rather than one power iteration and QR. The host is read once per step.
/// </summary>
public sealed class Soap : MatrixOptimizer
{
    readonly SoapOptions options;
    readonly (bool Left, bool Right)?[] sides;

    /// <summary>Creates SOAP for <paramref name="model"/>; invalid options throw here.</summary>
    public Soap(Module<Tensor, Tensor> model, SoapOptions options, Likelihood? likelihood = null, int microBatchSize = 0, double? gradClip = null)
        : base("soap", model, likelihood, microBatchSize, gradClip)
    {
        options.Validate();
        this.options = options;
        sides = Parameters.Select(p => MatrixView.IsMatrix(p.Parameter)
            ? ((bool, bool)?)(p.Parameter.shape[0] <= options.MaxPreconditionerDim, p.Parameter.numel() / p.Parameter.shape[0] <= options.MaxPreconditionerDim)
            : null).ToArray();
    }

    /// <summary>The options in force.</summary>
    public SoapOptions Options => options;

    /// <inheritdoc />
    public override IReadOnlyList<string> PreconditionedParameters =>
        Parameters.Where((_, i) => sides[i] is { } s && (s.Left || s.Right)).Select(p => p.Name).ToList();

    /// <inheritdoc />
    private protected override Proposal Propose(IReadOnlyList<Tensor> gradients, long step)
    {
        var o = options;
        double c1 = AdamMoments.Correction(o.Beta1, step), c2 = AdamMoments.Correction(o.Beta2, step);
        var next = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var updates = new List<ParameterUpdate>(Parameters.Count);
        for (int i = 0; i < Parameters.Count; i++)
        {
            var name = Parameters[i].Name;
            var g = gradients[i];
            // The first moment stays in the original space, so a new basis needs no rotation of it.
            var m = next[Key("m", name)] = AdamMoments.Ema(State(Key("m", name)), g, o.Beta1);
            if (sides[i] is not { } side)
            {
                var v1 = next[Key("v", name)] = AdamMoments.Ema(State(Key("v", name)), g * g, o.Beta2);
                updates.Add(new(AdamMoments.Direction(m, v1, c1, c2, o.Eps), 1, o.WeightDecay));
                continue;
            }

            // Adam in the current eigenbasis (the identity before the first one and on sides too long to rotate).
            var matrix = MatrixView.Of(g);
            var left = side.Left ? State(Key("Q_L", name)) : null;
            var right = side.Right ? State(Key("Q_R", name)) : null;
            var rotated = Rotate(matrix, left, right);
            var v = next[Key("v", name)] = AdamMoments.Ema(State(Key("v", name)), rotated * rotated, o.Beta2);
            var direction = RotateBack(AdamMoments.Direction(Rotate(MatrixView.Of(m), left, right), v, c1, c2, o.Eps), left, right);
            updates.Add(new(direction, 1, o.WeightDecay));

            // Shampoo's factors take this step's gradient after it has been used.
            using (PhaseTimer.Time(Timer, StepPhase.Curvature))
            {
                if (side.Left) next[Key("L", name)] = AdamMoments.Ema(State(Key("L", name)), matrix.mm(matrix.t()), o.ShampooBeta);
                if (side.Right) next[Key("R", name)] = AdamMoments.Ema(State(Key("R", name)), matrix.t().mm(matrix), o.ShampooBeta);
            }
        }
        return new Proposal(updates, next);
    }

    /// <inheritdoc />
    /// <remarks>After step 1 and every k-th step after it, the eigenbases of the committed factors (the second moment keeps its entries, matched by eigenvalue rank as in the reference).</remarks>
    private protected override void AfterCommit(long step)
    {
        if ((step - 1) % options.PreconditionFrequency != 0) return;
        using var timing = PhaseTimer.Time(Timer, StepPhase.Curvature);
        for (int i = 0; i < Parameters.Count; i++)
        {
            if (sides[i] is not { } side) continue;
            var name = Parameters[i].Name;
            if (side.Left) Refresh(Key("L", name), Key("Q_L", name));
            if (side.Right) Refresh(Key("R", name), Key("Q_R", name));
        }
    }

    void Refresh(string factor, string basis)
    {
        try { SetState(basis, SymmetricMatrixFunctions.Eigenbasis(State(factor)!, options.CanonicalNullBasis)); }
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            Warnings.Add($"soap step {StepCount}: the eigenbasis of {factor} failed ({e.Message.Split('\n')[0]}); the previous basis is kept.");
        }
    }

    static Tensor Rotate(Tensor x, Tensor? left, Tensor? right)
    {
        if (left is not null) x = left.t().mm(x);
        return right is null ? x : x.mm(right);
    }

    static Tensor RotateBack(Tensor x, Tensor? left, Tensor? right)
    {
        if (left is not null) x = left.mm(x);
        return right is null ? x : x.mm(right.t());
    }
}
