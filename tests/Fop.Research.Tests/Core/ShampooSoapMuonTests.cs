using Fop.Research.Optim;
using Fop.Research.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Fop.Research.Tests.Core;

/// <summary>
/// Shampoo, SOAP and Muon against independent float64 references on tiny models: inverse roots against matrices built
/// from their eigenvalues, Shampoo's grafted step against a dense Kronecker computation with SVD roots, SOAP against a
/// hand-written rotated Adam with SVD bases, Muon's Newton-Schulz against its scalar polynomial on the singular values
/// and the polar factor, and the degenerate settings that must reproduce TorchSharp's own AdamW and Adagrad.
/// </summary>
public sealed class ShampooSoapMuonTests
{
    static Tensor Inputs(string kind, int n) => kind switch
    {
        "mlp" => torch.randn(n, 5, dtype: ScalarType.Float64),
        "mlp-4-3-4" => torch.randn(n, 4, dtype: ScalarType.Float64),
        "cnn-pooled" => torch.randn(n, 1, 5, 5, dtype: ScalarType.Float64),
        _ => torch.randn(n, 2, 7, 6, dtype: ScalarType.Float64),
    };

    static int Classes(string kind) => kind == "mlp" ? 3 : 4;

    static Sequential Model(string kind, long seed) => kind switch
    {
        "mlp" => TestModels.Mlp(seed, 5, 4, 3),
        "mlp-4-3-4" => TestModels.Mlp(seed, 4, 3, 4),
        "cnn-pooled" => PooledConvNet(seed),
        _ => FactorConventionTests.ConvNet(seed),
    };

    /// <summary>A conv (kernel as a 3 x 4 matrix) -> tanh -> global mean -> linear 3 -> 4: no factor has a repeated zero eigenvalue after one step (see SOAP's test).</summary>
    static Sequential PooledConvNet(long seed)
    {
        torch.manual_seed(seed);
        var model = torch.nn.Sequential(("conv", (torch.nn.Module<Tensor, Tensor>)torch.nn.Conv2d(1, 3, 2)), ("act", torch.nn.Tanh()),
            ("pool", torch.nn.AdaptiveAvgPool2d(1)), ("flat", torch.nn.Flatten()), ("fc", torch.nn.Linear(3, 4)));
        model.to(ScalarType.Float64);
        return model;
    }

    /// <summary>Runs <paramref name="steps"/> steps of ours and of a reference that steps its own model copy from that copy's gradients.</summary>
    static void Compare(string kind, ModelOptimizer ours, Sequential oursModel, Sequential theirs, Action<double> referenceStep, int steps, double tolerance, double lr, string label)
    {
        torch.manual_seed(17);
        for (int step = 0; step < steps; step++)
        {
            var x = Inputs(kind, 12);
            var y = torch.randint(0, Classes(kind), [12]);
            Assert.False(ours.Step(x, y, lr).Skipped);
            foreach (var p in theirs.parameters()) { using var g = p.grad; g?.zero_(); }
            torch.nn.functional.cross_entropy(theirs.call(x), y).backward();
            referenceStep(lr);
            TestModels.AssertSameWeights(oursModel, theirs, tolerance, $"{label} step {step}: ");
        }
    }

    static Tensor Grad(Parameter p) { using var g = p.grad; return g!.detach().clone(); }

    static Tensor RandomOrthogonal(int n, long seed)
    {
        var (q, _) = torch.linalg.qr(torch.randn(new long[] { n, n }, generator: new Generator((ulong)seed), dtype: ScalarType.Float64));
        return q;
    }

    // ---- Inverse roots ----

    [Theory]
    [InlineData(new[] { 3.0, 1.0, 0.25, 1e-3 }, 1e-12)]       // well conditioned
    [InlineData(new[] { 2.0, 0.5, 0.0, 0.0 }, 1e-3)]          // rank deficient: epsilon carries the null space
    [InlineData(new[] { 1.0, 0.3, -0.05, 0.2 }, 1e-6)]        // indefinite (round-off gone large): shifted up by the most negative eigenvalue
    public void InverseRootsAreThoseOfTheEigenvaluesTheMatrixWasBuiltFrom(double[] eigenvalues, double eps)
    {
        var q = RandomOrthogonal(eigenvalues.Length, 3);
        var lambda = torch.tensor(eigenvalues, dtype: ScalarType.Float64);
        var a = q.mm(torch.diag(lambda)).mm(q.t());
        var shifted = lambda - Math.Min(0, eigenvalues.Min()) + eps;
        foreach (int root in new[] { 2, 4 })
        {
            var expected = q.mm(torch.diag(shifted.pow(-1.0 / root))).mm(q.t());
            var x = SymmetricMatrixFunctions.InverseRoot(a, root, eps);
            double scale = expected.abs().max().item<double>();
            Assert.True(TestModels.MaxAbs(x, expected) <= 1e-10 * scale, $"root {root}: {TestModels.MaxAbs(x, expected)}");
            // The defining identity X^p (A_shifted + eps I) = I.
            var shiftedMatrix = q.mm(torch.diag(shifted)).mm(q.t());
            Assert.True(TestModels.MaxAbs(Enumerable.Repeat(x, root - 1).Aggregate(x, (acc, f) => acc.mm(f)).mm(shiftedMatrix), torch.eye(eigenvalues.Length, dtype: ScalarType.Float64)) <= 1e-8);
        }
    }

    [Fact]
    public void SoapsEigenbasisIsCanonicalOnTheNullSpaceAndExactElsewhere()
    {
        // A three-dimensional null space: a 1e-16 perturbation must not turn its basis (round-off from micro-batching does the same).
        var q = RandomOrthogonal(5, 4);
        var a = q.mm(torch.diag(torch.tensor(new[] { 3.0, 1.0, 0, 0, 0 }, dtype: ScalarType.Float64))).mm(q.t());
        var noise = torch.randn(new long[] { 5, 5 }, generator: new Generator(9), dtype: ScalarType.Float64) * 1e-16;
        var basis = SymmetricMatrixFunctions.Eigenbasis(a);
        var perturbed = SymmetricMatrixFunctions.Eigenbasis(a + noise + noise.t());
        Assert.True(TestModels.MaxAbs(basis.t().mm(perturbed).abs(), torch.eye(5, dtype: ScalarType.Float64)) <= 1e-8, "the null-space basis moved");
        Assert.True(TestModels.MaxAbs(basis.t().mm(basis), torch.eye(5, dtype: ScalarType.Float64)) <= 1e-12, "not orthonormal");
        // The range keeps its eigenvectors, largest first.
        Assert.True(TestModels.MaxAbs(a.mm(basis.narrow(1, 0, 2)), basis.narrow(1, 0, 2) * torch.tensor(new[] { 3.0, 1.0 }, dtype: ScalarType.Float64)) <= 1e-12);
        Assert.True(TestModels.MaxAbs(a.mm(basis.narrow(1, 2, 3)), torch.zeros(5, 3, dtype: ScalarType.Float64)) <= 1e-12);
    }

    // ---- Shampoo ----

    /// <summary>Distributed Shampoo's step written out densely: per block, vec(L^-1/4 M R^-1/4) = kron(L^-1/4, R^-1/4) vec(M) (row-major vec), roots from an SVD.</summary>
    sealed class DenseShampoo(Sequential model, ShampooOptions o)
    {
        readonly Dictionary<string, Tensor> m = new(), v = new(), left = new(), right = new(), leftRoot = new(), rightRoot = new();
        int t;

        static Tensor SvdRoot(Tensor a, double eps)
        {
            var (u, s, _) = torch.linalg.svd(a);
            return u.mm(torch.diag((s + eps).pow(-0.25))).mm(u.t());
        }

        public void Step(double lr)
        {
            t++;
            using var noGrad = torch.no_grad();
            foreach (var (name, p) in model.named_parameters())
            {
                var g = Grad(p);
                v[name] = o.Grafting == GraftingMethod.Adam
                    ? (v.TryGetValue(name, out var v0) ? v0 * o.GraftingBeta2 : torch.zeros_like(g)) + g * g * (1 - o.GraftingBeta2)
                    : (v.TryGetValue(name, out var s0) ? s0 : torch.zeros_like(g)) + g * g;
                Tensor mt = g;
                if (o.Beta1 > 0) mt = m[name] = (m.TryGetValue(name, out var m0) ? m0 * o.Beta1 : torch.zeros_like(g)) + g * (1 - o.Beta1);
                var mhat = mt / (o.Beta1 > 0 ? 1 - Math.Pow(o.Beta1, t) : 1);
                var vhat = v[name] / (o.Grafting == GraftingMethod.Adam ? 1 - Math.Pow(o.GraftingBeta2, t) : 1);
                var graft = mhat / (vhat.sqrt() + o.GraftingEps);
                Tensor direction = graft;
                if (p.dim() >= 2)
                {
                    long rows = p.shape[0], cols = p.numel() / rows;
                    var gm = g.reshape(rows, cols);
                    var mm = mhat.reshape(rows, cols);
                    var gf = graft.reshape(rows, cols);
                    var d = torch.zeros_like(mm);
                    int block = o.MaxPreconditionerDim;
                    for (long r0 = 0; r0 < rows; r0 += block)
                        for (long c0 = 0; c0 < cols; c0 += block)
                        {
                            long rl = Math.Min(block, rows - r0), cl = Math.Min(block, cols - c0);
                            var key = $"{name}:{r0}:{c0}";
                            var gb = gm[TensorIndex.Slice(r0, r0 + rl), TensorIndex.Slice(c0, c0 + cl)];
                            Tensor Add(Dictionary<string, Tensor> f, Tensor outer) => f[key] = o.Beta2 < 1
                                ? (f.TryGetValue(key, out var f0) ? f0 * o.Beta2 : torch.zeros_like(outer)) + outer * (1 - o.Beta2)
                                : (f.TryGetValue(key, out var f1) ? f1 : torch.zeros_like(outer)) + outer;
                            var l = Add(left, gb.mm(gb.t()));
                            var r = Add(right, gb.t().mm(gb));
                            double correction = o.Beta2 < 1 ? 1 - Math.Pow(o.Beta2, t) : 1;
                            if (t == o.StartPreconditioningStep || (t > o.StartPreconditioningStep && t % o.PreconditionFrequency == 0))
                            {
                                leftRoot[key] = SvdRoot(l / correction, o.Epsilon);
                                rightRoot[key] = SvdRoot(r / correction, o.Epsilon);
                            }
                            var graftBlock = gf[TensorIndex.Slice(r0, r0 + rl), TensorIndex.Slice(c0, c0 + cl)];
                            Tensor blockDirection = graftBlock;
                            if (t >= o.StartPreconditioningStep)
                            {
                                var mb = mm[TensorIndex.Slice(r0, r0 + rl), TensorIndex.Slice(c0, c0 + cl)];
                                var dense = torch.kron(leftRoot[key], rightRoot[key]).mv(mb.reshape(-1)).reshape(rl, cl);
                                blockDirection = dense * (graftBlock.norm() / (dense.norm() + 1e-16));
                            }
                            d[TensorIndex.Slice(r0, r0 + rl), TensorIndex.Slice(c0, c0 + cl)] = blockDirection;
                        }
                    direction = d.reshape(p.shape);
                }
                p.mul_(1 - lr * o.WeightDecay);
                p.sub_(direction * lr);
            }
        }
    }

    [Theory]
    [InlineData("mlp", 1024, 1, "adam")]
    [InlineData("mlp", 1024, 2, "adam")]
    [InlineData("mlp", 3, 2, "adam")]          // blocks: fc0 (4 x 5) is four blocks, fc1 (3 x 4) two
    [InlineData("mlp", 1024, 3, "adagrad")]
    [InlineData("cnn", 4, 2, "adam")]          // the conv kernel as a (3, 18) matrix, in blocks
    public void ShampooRootsAndGraftedStepsMatchADenseFloat64Reference(string kind, int maxDim, int frequency, string grafting)
    {
        var options = (grafting == "adam" ? ShampooOptions.Default : ShampooOptions.Adagrad) with
        {
            MaxPreconditionerDim = maxDim, PreconditionFrequency = frequency, WeightDecay = 0.01, StartPreconditioningStep = 2,
        };
        var ours = Model(kind, 31);
        var theirs = Model(kind, 31);
        using var shampoo = new Shampoo(ours, options);
        var reference = new DenseShampoo(theirs, options);
        Compare(kind, shampoo, ours, theirs, reference.Step, 6, 1e-10, 0.05, $"{kind} block {maxDim} every {frequency} {grafting}");
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("adagrad")]
    public void ShampooBeforeItsStartStepIsItsGraftingMethod(string grafting)
    {
        // Distributed Shampoo's own check: never preconditioning leaves the grafting method, here TorchSharp's AdamW or Adagrad.
        const double lr = 0.03;
        var ours = TestModels.Mlp(41, 5, 4, 3);
        var theirs = TestModels.Mlp(41, 5, 4, 3);
        var options = grafting == "adam"
            ? ShampooOptions.Default with { StartPreconditioningStep = 1_000_000, GraftingBeta2 = 0.99, WeightDecay = 0.02 }
            : ShampooOptions.Adagrad with { StartPreconditioningStep = 1_000_000 };
        using var shampoo = new Shampoo(ours, options);
        torch.optim.Optimizer reference = grafting == "adam"
            ? torch.optim.AdamW(theirs.parameters(), lr, 0.9, 0.99, 1e-8, 0.02)
            : torch.optim.Adagrad(theirs.parameters(), lr, eps: 1e-10);
        Compare("mlp", shampoo, ours, theirs, _ => reference.step(), 6, 1e-12, lr, $"shampoo as {grafting}");
    }

    // ---- SOAP ----

    /// <summary>SOAP written out: first moment in the original space, Adam in the SVD eigenbasis of the factors, bases after step 1 and every k-th step.</summary>
    sealed class ReferenceSoap(Sequential model, SoapOptions o)
    {
        readonly Dictionary<string, Tensor> m = new(), v = new(), left = new(), right = new(), leftBasis = new(), rightBasis = new();
        int t;

        static Tensor Ema(Dictionary<string, Tensor> d, string key, Tensor x, double beta) =>
            d[key] = (d.TryGetValue(key, out var old) ? old * beta : torch.zeros_like(x)) + x * (1 - beta);

        public void Step(double lr)
        {
            t++;
            double c1 = 1 - Math.Pow(o.Beta1, t), c2 = 1 - Math.Pow(o.Beta2, t);
            using var noGrad = torch.no_grad();
            foreach (var (name, p) in model.named_parameters())
            {
                var g = Grad(p);
                var mt = Ema(m, name, g, o.Beta1);
                Tensor direction;
                if (p.dim() < 2)
                {
                    var vt = Ema(v, name, g * g, o.Beta2);
                    direction = mt / c1 / ((vt / c2).sqrt() + o.Eps);
                }
                else
                {
                    long rows = p.shape[0], cols = p.numel() / rows;
                    var gm = g.reshape(rows, cols);
                    var ql = leftBasis.GetValueOrDefault(name) ?? torch.eye(rows, dtype: ScalarType.Float64);
                    var qr = rightBasis.GetValueOrDefault(name) ?? torch.eye(cols, dtype: ScalarType.Float64);
                    var rotated = ql.t().mm(gm).mm(qr);
                    var vt = Ema(v, name, rotated * rotated, o.Beta2);
                    var inner = ql.t().mm(mt.reshape(rows, cols)).mm(qr) / c1 / ((vt / c2).sqrt() + o.Eps);
                    direction = ql.mm(inner).mm(qr.t()).reshape(p.shape);
                    Ema(left, name, gm.mm(gm.t()), o.ShampooBeta);
                    Ema(right, name, gm.t().mm(gm), o.ShampooBeta);
                }
                p.mul_(1 - lr * o.WeightDecay);
                p.sub_(direction * lr);
            }
            if ((t - 1) % o.PreconditionFrequency == 0)
                foreach (var name in left.Keys)
                {
                    leftBasis[name] = torch.linalg.svd(left[name]).Item1;
                    rightBasis[name] = torch.linalg.svd(right[name]).Item1;
                }
        }
    }

    /// <remarks>
    /// Where a factor has a repeated eigenvalue, SOAP depends on which basis of that eigenspace the solver returns (Adam's
    /// per-coordinate scaling is not rotation invariant), so no independent reference can match it there. After one step
    /// a factor has rank at most the batch gradient's, and a softmax output layer's G has 1^T G = 0; these models are
    /// sized so that every factor has at most one zero eigenvalue after the first step (the first basis).
    /// </remarks>
    [Theory]
    [InlineData("mlp-4-3-4", 1)]
    [InlineData("mlp-4-3-4", 2)]
    [InlineData("cnn-pooled", 3)]
    public void SoapMatchesAHandWrittenFloat64Reference(string kind, int frequency)
    {
        var options = SoapOptions.Default with { PreconditionFrequency = frequency, Beta1 = 0.9, Beta2 = 0.99 };
        var ours = Model(kind, 51);
        var theirs = Model(kind, 51);
        using var soap = new Soap(ours, options);
        var reference = new ReferenceSoap(theirs, options);
        Compare(kind, soap, ours, theirs, reference.Step, 7, 1e-10, 0.01, $"soap {kind} every {frequency}");
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("cnn")]
    public void SoapWithTheIdentityBasisIsAdamW(string kind)
    {
        const double lr = 0.02;
        var ours = Model(kind, 61);
        var theirs = Model(kind, 61);
        using var soap = new Soap(ours, SoapOptions.AsAdamW with { Beta1 = 0.9, Beta2 = 0.99, WeightDecay = 0.05 });
        var reference = torch.optim.AdamW(theirs.parameters(), lr, 0.9, 0.99, 1e-8, 0.05);
        Compare(kind, soap, ours, theirs, _ => reference.step(), 6, 1e-12, lr, $"soap as adamw {kind}");
    }

    // ---- Muon ----

    /// <summary>Muon's iteration applied to the singular values alone: x = s / (|G|_F + 1e-7), then x &lt;- a x + b x^3 + c x^5.</summary>
    static Tensor NewtonSchulzBySvd(Tensor g, int steps)
    {
        var (u, s, vh) = torch.linalg.svd(g, fullMatrices: false);
        var x = s / (s.square().sum().sqrt() + 1e-7);
        for (int k = 0; k < steps; k++) x = x * 3.4445 - x.pow(3) * 4.7750 + x.pow(5) * 2.0315;
        return u.mm(torch.diag(x)).mm(vh);
    }

    [Theory]
    [InlineData(6, 4)]
    [InlineData(4, 6)]
    [InlineData(5, 5)]
    public void NewtonSchulzIsItsPolynomialOnTheSingularValuesAndNearThePolarFactor(int rows, int cols)
    {
        // Singular values from 1 down to 0.1 of the largest: within the range where the reference's coefficients are tuned.
        int k = Math.Min(rows, cols);
        var s = torch.linspace(1, 0.1, k, dtype: ScalarType.Float64);
        var u = RandomOrthogonal(rows, 7).narrow(1, 0, k);
        var v = RandomOrthogonal(cols, 8).narrow(1, 0, k);
        var g = u.mm(torch.diag(s)).mm(v.t()) * 3.0;
        var ns = NewtonSchulz.Orthogonalize(g, 5);
        Assert.True(TestModels.MaxAbs(ns, NewtonSchulzBySvd(g, 5)) <= 1e-12, $"against the polynomial: {TestModels.MaxAbs(ns, NewtonSchulzBySvd(g, 5))}");
        // The known tolerance: singular values land in about [0.68, 1.14], so the spectral distance to U V^T is below 0.32.
        var singular = torch.linalg.svdvals(ns);
        Assert.True(singular.min().item<double>() >= 0.68 && singular.max().item<double>() <= 1.14, $"singular values {string.Join(", ", singular.data<double>().ToArray())}");
        var polar = u.mm(v.t());
        Assert.True(torch.linalg.matrix_norm(ns - polar, ord: 2).item<double>() <= 0.32);
        // Orthogonal rows (wide) or columns (tall) up to that tolerance.
        var gram = rows <= cols ? ns.mm(ns.t()) : ns.t().mm(ns);
        Assert.True(TestModels.MaxAbs(gram, torch.eye(k, dtype: ScalarType.Float64)) <= 0.32 * 2.2);
    }

    /// <summary>Muon written out: EMA momentum, Nesterov blend, Newton-Schulz through the SVD, sqrt(max(1, rows/cols)); AdamW at a fraction of the rate for 1-D parameters.</summary>
    sealed class ReferenceMuon(Sequential model, MuonOptions o)
    {
        readonly Dictionary<string, Tensor> buffer = new(), m = new(), v = new();
        int t;

        public void Step(double lr)
        {
            t++;
            using var noGrad = torch.no_grad();
            foreach (var (name, p) in model.named_parameters())
            {
                var g = Grad(p);
                if (p.dim() >= 2)
                {
                    var b = buffer[name] = (buffer.TryGetValue(name, out var b0) ? b0 : torch.zeros_like(g)) * o.Momentum + g * (1 - o.Momentum);
                    var u = o.Nesterov ? g * (1 - o.Momentum) + b * o.Momentum : b;
                    long rows = p.shape[0], cols = p.numel() / rows;
                    var update = NewtonSchulzBySvd(u.reshape(rows, cols), o.NewtonSchulzSteps) * Math.Sqrt(Math.Max(1, rows / (double)cols));
                    p.mul_(1 - lr * o.WeightDecay);
                    p.sub_(update.reshape(p.shape) * lr);
                }
                else
                {
                    var a = o.AdamW;
                    double adamLr = lr * o.AdamWLrRatio;
                    var mt = m[name] = (m.TryGetValue(name, out var m0) ? m0 : torch.zeros_like(g)) * a.Beta1 + g * (1 - a.Beta1);
                    var vt = v[name] = (v.TryGetValue(name, out var v0) ? v0 : torch.zeros_like(g)) * a.Beta2 + g * g * (1 - a.Beta2);
                    p.mul_(1 - adamLr * a.WeightDecay);
                    p.sub_(mt / (1 - Math.Pow(a.Beta1, t)) / ((vt / (1 - Math.Pow(a.Beta2, t))).sqrt() + a.Eps) * adamLr);
                }
            }
        }
    }

    [Theory]
    [InlineData("mlp", true)]
    [InlineData("mlp", false)]
    [InlineData("cnn", true)]
    public void MuonStepsMatchAHandWrittenReference(string kind, bool nesterov)
    {
        var options = MuonOptions.Default with { Nesterov = nesterov, WeightDecay = 0.1, AdamWLrRatio = 0.2, AdamW = new AdamWOptions(0.9, 0.95, 1e-10, 0.05) };
        var ours = Model(kind, 71);
        var theirs = Model(kind, 71);
        using var muon = new Muon(ours, options);
        var reference = new ReferenceMuon(theirs, options);
        Compare(kind, muon, ours, theirs, reference.Step, 4, 1e-10, 0.02, $"muon {kind} nesterov {nesterov}");
    }

    [Fact]
    public void MuonWithEveryParameterOnAdamWIsAdamW()
    {
        const double lr = 0.1;
        var ours = TestModels.Mlp(81, 5, 4, 3);
        var theirs = TestModels.Mlp(81, 5, 4, 3);
        using var muon = new Muon(ours, MuonOptions.Default with { AdamWParameters = ".*", AdamWLrRatio = 0.25, AdamW = new AdamWOptions(0.9, 0.99, 1e-8, 0.05) });
        Assert.Empty(muon.PreconditionedParameters);
        var reference = torch.optim.AdamW(theirs.parameters(), lr * 0.25, 0.9, 0.99, 1e-8, 0.05);
        Compare("mlp", muon, ours, theirs, _ => reference.step(), 6, 1e-12, lr, "muon as adamw");
    }

    // ---- Options and configs ----

    [Fact]
    public void InvalidOptionsAreRejectedAtConstructionAndThroughSet()
    {
        using var model = TestModels.Mlp(1, 5, 3);
        Assert.Contains("shampoo.beta2", Assert.ThrowsAny<ArgumentException>(() => new Shampoo(model, ShampooOptions.Default with { Beta2 = 1.5 })).Message);
        Assert.Contains("shampoo.epsilon", Assert.ThrowsAny<ArgumentException>(() => new Shampoo(model, ShampooOptions.Default with { Epsilon = 0 })).Message);
        Assert.Contains("soap.precondition_frequency", Assert.ThrowsAny<ArgumentException>(() => new Soap(model, SoapOptions.Default with { PreconditionFrequency = 0 })).Message);
        Assert.Contains("muon.newton_schulz_steps", Assert.ThrowsAny<ArgumentException>(() => new Muon(model, MuonOptions.Default with { NewtonSchulzSteps = 0 })).Message);
        Assert.Contains("muon.adamw_parameters", Assert.ThrowsAny<ArgumentException>(() => new Muon(model, MuonOptions.Default with { AdamWParameters = "(" })).Message);

        var e = Assert.ThrowsAny<ArgumentException>(() => ConfigFile.Load(null, ["optimizer=soap", "soap.beta1=1"]));
        Assert.StartsWith("--set: ", e.Message);
        Assert.Contains("soap.beta1", e.Message);
        Assert.Contains("unknown key 'roots'", Assert.ThrowsAny<ArgumentException>(() => ConfigFile.Load(null, ["shampoo.roots=2"])).Message);
        var config = ConfigFile.Load(null, ["optimizer=shampoo", "shampoo.grafting=adagrad", "shampoo.beta2=1", "muon.adamw.beta2=0.99", "soap.max_preconditioner_dim=0"]);
        Assert.Equal(GraftingMethod.Adagrad, config.Shampoo.Grafting);
        Assert.Equal(0.99, config.Muon.AdamW.Beta2);
        Assert.Contains(config.Warnings(), w => w.StartsWith("soap.*") || w.StartsWith("muon.*"));
        // config.json keeps the sections: written and read back, the same JSON.
        var file = Path.Combine(Path.GetTempPath(), $"fop-newopt-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(file, ConfigFile.ToJson(config));
            Assert.Equal(ConfigFile.ToJson(config), ConfigFile.ToJson(ConfigFile.Load(file)));
        }
        finally { File.Delete(file); }
        foreach (var name in new[] { "shampoo", "soap", "muon" })
        {
            using var m = TestModels.Mlp(2, 5, 3);
            using var optimizer = OptimizerFactory.Create(ConfigFile.Load(null, [$"optimizer={name}"]), m);
            Assert.Equal(name, optimizer.Name);
            Assert.Equal(["fc0.weight"], optimizer.PreconditionedParameters);
        }
    }
}
