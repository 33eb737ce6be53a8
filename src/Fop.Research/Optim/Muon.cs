using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Optim;

/// <summary>
/// Muon (see <see cref="MuonOptions"/>): momentum -> Nesterov blend -> Newton-Schulz orthogonalisation of the matrix
/// (a conv kernel as (out, in*kh*kw)) -> scale by sqrt(max(1, rows/cols)) -> decoupled weight decay -> step; 1-D and
/// named parameters take AdamW at <see cref="MuonOptions.AdamWLrRatio"/> times the rate. The reference scales a conv
/// update by its kernel's kh/kw instead (its 4-D gradient's last two sides); here the matrix's rows/cols are used.
/// The host is read once per step.
/// </summary>
public sealed class Muon : MatrixOptimizer
{
    readonly MuonOptions options;
    readonly bool[] orthogonalised;

    /// <summary>Creates Muon for <paramref name="model"/>; invalid options throw here.</summary>
    public Muon(Module<Tensor, Tensor> model, MuonOptions options, Likelihood? likelihood = null, int microBatchSize = 0, double? gradClip = null)
        : base("muon", model, likelihood, microBatchSize, gradClip)
    {
        options.Validate();
        this.options = options;
        orthogonalised = Parameters.Select(p => MatrixView.IsMatrix(p.Parameter) && !options.SendsToAdamW(p.Name)).ToArray();
    }

    /// <summary>The options in force.</summary>
    public MuonOptions Options => options;

    /// <inheritdoc />
    public override IReadOnlyList<string> PreconditionedParameters => Parameters.Where((_, i) => orthogonalised[i]).Select(p => p.Name).ToList();

    /// <inheritdoc />
    private protected override Proposal Propose(IReadOnlyList<Tensor> gradients, long step)
    {
        var o = options;
        var adamw = o.AdamW;
        double c1 = AdamMoments.Correction(adamw.Beta1, step), c2 = AdamMoments.Correction(adamw.Beta2, step);
        var next = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var updates = new List<ParameterUpdate>(Parameters.Count);
        for (int i = 0; i < Parameters.Count; i++)
        {
            var name = Parameters[i].Name;
            var g = gradients[i];
            if (!orthogonalised[i])
            {
                var m = next[Key("m", name)] = AdamMoments.Ema(State(Key("m", name)), g, adamw.Beta1);
                var v = next[Key("v", name)] = AdamMoments.Ema(State(Key("v", name)), g * g, adamw.Beta2);
                updates.Add(new(AdamMoments.Direction(m, v, c1, c2, adamw.Eps), o.AdamWLrRatio, adamw.WeightDecay));
                continue;
            }
            var buffer = next[Key("momentum", name)] = AdamMoments.Ema(State(Key("momentum", name)), g, o.Momentum);
            var blended = o.Nesterov ? g * (1 - o.Momentum) + buffer * o.Momentum : buffer;
            var matrix = MatrixView.Of(blended);
            var update = NewtonSchulz.Orthogonalize(matrix, o.NewtonSchulzSteps) * Math.Sqrt(Math.Max(1.0, matrix.shape[0] / (double)matrix.shape[1]));
            updates.Add(new(update, 1, o.WeightDecay));
        }
        return new Proposal(updates, next);
    }
}
