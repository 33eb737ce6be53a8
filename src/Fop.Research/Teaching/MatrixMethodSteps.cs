using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Teaching;

/// <summary>
/// Shampoo, SOAP and Muon in the plane: each layer's gradient is a 1 x k matrix (one output), and each method keeps its
/// per-layer statistics between steps as the library's optimizers do, with the same formulas and option records
/// (<see cref="ShampooOptions"/>, <see cref="SoapOptions"/>, <see cref="MuonOptions"/>) and the same matrix functions
/// (<see cref="SymmetricMatrixFunctions"/>, <see cref="NewtonSchulz"/>). Two differences, both for the picture: roots and
/// bases are refreshed every step (there is nothing to save in the plane), and there is no weight decay. A fresh instance
/// per trajectory.
/// </summary>
public sealed class MatrixMethodSteps : IDisposable
{
    readonly TeachingMethod method;
    readonly ShampooOptions shampoo;
    readonly SoapOptions soap;
    readonly MuonOptions muon;
    readonly Dictionary<string, Tensor> state = new(StringComparer.Ordinal);
    long step;

    /// <summary>A method's state before its first step; options default to the library's presets.</summary>
    public MatrixMethodSteps(TeachingMethod method, ShampooOptions? shampoo = null, SoapOptions? soap = null, MuonOptions? muon = null)
    {
        if (!IsMatrixMethod(method)) throw new ArgumentException($"{method} is not one of Shampoo, SOAP and Muon.", nameof(method));
        this.method = method;
        this.shampoo = (shampoo ?? ShampooOptions.Default) with { WeightDecay = 0 };
        this.soap = (soap ?? SoapOptions.Default) with { WeightDecay = 0 };
        this.muon = (muon ?? MuonOptions.Default) with { WeightDecay = 0 };
        this.shampoo.Validate();
        this.soap.Validate();
        this.muon.Validate();
    }

    /// <summary>Whether <paramref name="method"/> is a method of this class (stateful, per layer).</summary>
    public static bool IsMatrixMethod(TeachingMethod method) => method is TeachingMethod.Shampoo or TeachingMethod.Soap or TeachingMethod.Muon;

    /// <summary>The direction d of the next step (w_next = w - lr d) on a batch, updating the statistics.</summary>
    public Vec2 Next(TwoWeightProblem p, Vec2 w, IReadOnlyList<int> batch)
    {
        step++;
        var g = p.Gradient(w, batch).ToArray();
        var d = new double[2];
        foreach (var block in p.Kfac(w, batch))
        {
            using var scope = torch.NewDisposeScope();
            var row = tensor(block.Weights.Select(i => g[i]).ToArray(), float64).reshape(1, block.Weights.Length);
            var direction = method switch
            {
                TeachingMethod.Shampoo => Shampoo(block.Name, row),
                TeachingMethod.Soap => Soap(block.Name, row),
                _ => Muon(block.Name, row),
            };
            var values = direction.data<double>().ToArray();
            for (int r = 0; r < block.Weights.Length; r++) d[block.Weights[r]] = values[r];
        }
        return new Vec2(d[0], d[1]);
    }

    // Adam-grafted L^-1/4 M R^-1/4, as Optim.Shampoo with its roots computed every step.
    Tensor Shampoo(string layer, Tensor g)
    {
        var o = shampoo;
        double c1 = o.Beta1 > 0 ? AdamMoments.Correction(o.Beta1, step) : 1;
        double factorCorrection = o.Beta2 < 1 ? AdamMoments.Correction(o.Beta2, step) : 1;
        double graftCorrection = o.Grafting == GraftingMethod.Adam ? AdamMoments.Correction(o.GraftingBeta2, step) : 1;
        var v = Keep(layer, "graft", o.Grafting == GraftingMethod.Adam ? AdamMoments.Ema(Get(layer, "graft"), g * g, o.GraftingBeta2) : AdamMoments.Sum(Get(layer, "graft"), g * g));
        var m = o.Beta1 > 0 ? Keep(layer, "m", AdamMoments.Ema(Get(layer, "m"), g, o.Beta1)) : g;
        var graft = AdamMoments.Direction(m, v, c1, graftCorrection, o.GraftingEps);
        Tensor Accumulate(string key, Tensor outer) => Keep(layer, key, o.Beta2 < 1 ? AdamMoments.Ema(Get(layer, key), outer, o.Beta2) : AdamMoments.Sum(Get(layer, key), outer));
        var left = Accumulate("L", g.mm(g.t()));
        var right = Accumulate("R", g.t().mm(g));
        if (step < o.StartPreconditioningStep) return graft;
        var d = SymmetricMatrixFunctions.InverseRoot(left / factorCorrection, 4, o.Epsilon).mm(m / c1).mm(SymmetricMatrixFunctions.InverseRoot(right / factorCorrection, 4, o.Epsilon));
        return d * (graft.norm() / (d.norm() + 1e-16));
    }

    // Adam in the eigenbases of Shampoo's factors, as Optim.Soap with its bases refreshed after every step.
    Tensor Soap(string layer, Tensor g)
    {
        var o = soap;
        double c1 = AdamMoments.Correction(o.Beta1, step), c2 = AdamMoments.Correction(o.Beta2, step);
        var m = Keep(layer, "m", AdamMoments.Ema(Get(layer, "m"), g, o.Beta1));
        var (ql, qr) = (Get(layer, "Q_L"), Get(layer, "Q_R"));
        var rotated = Rotate(g, ql, qr);
        var v = Keep(layer, "v", AdamMoments.Ema(Get(layer, "v"), rotated * rotated, o.Beta2));
        var direction = AdamMoments.Direction(Rotate(m, ql, qr), v, c1, c2, o.Eps);
        if (ql is not null) direction = ql.mm(direction);
        if (qr is not null) direction = direction.mm(qr.t());
        var left = Keep(layer, "L", AdamMoments.Ema(Get(layer, "L"), g.mm(g.t()), o.ShampooBeta));
        var right = Keep(layer, "R", AdamMoments.Ema(Get(layer, "R"), g.t().mm(g), o.ShampooBeta));
        Keep(layer, "Q_L", SymmetricMatrixFunctions.Eigenbasis(left, o.CanonicalNullBasis));
        Keep(layer, "Q_R", SymmetricMatrixFunctions.Eigenbasis(right, o.CanonicalNullBasis));
        return direction;
    }

    // Newton-Schulz-orthogonalised (Nesterov) momentum, as Optim.Muon on a matrix weight.
    Tensor Muon(string layer, Tensor g)
    {
        var o = muon;
        var buffer = Keep(layer, "momentum", AdamMoments.Ema(Get(layer, "momentum"), g, o.Momentum));
        var blended = o.Nesterov ? g * (1 - o.Momentum) + buffer * o.Momentum : buffer;
        return NewtonSchulz.Orthogonalize(blended, o.NewtonSchulzSteps) * Math.Sqrt(Math.Max(1.0, blended.shape[0] / (double)blended.shape[1]));
    }

    /// <summary>Frees the statistics.</summary>
    public void Dispose()
    {
        foreach (var t in state.Values) t.Dispose();
        state.Clear();
    }

    static Tensor Rotate(Tensor x, Tensor? left, Tensor? right)
    {
        if (left is not null) x = left.t().mm(x);
        return right is null ? x : x.mm(right);
    }

    Tensor? Get(string layer, string key) => state.TryGetValue($"{layer}/{key}", out var t) ? t : null;

    Tensor Keep(string layer, string key, Tensor value)
    {
        var k = $"{layer}/{key}";
        if (state.TryGetValue(k, out var old)) old.Dispose();
        return state[k] = value.detach().clone().DetachFromDisposeScope();
    }
}
