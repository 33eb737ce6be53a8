using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Randomness;

namespace Fop.Research.Curvature;

/// <summary>The model's predictive distribution: the loss it defines and what curvature estimates need from it.</summary>
public abstract class Likelihood
{
    /// <summary>Softmax cross-entropy over class logits (classification).</summary>
    public static Likelihood Categorical { get; } = new CategoricalLikelihood();
    /// <summary>Unit-variance Gaussian on the outputs: loss 1/2 |f - y|^2 (regression; exact Fisher is Kronecker on deep linear nets).</summary>
    public static Likelihood Gaussian { get; } = new GaussianLikelihood();

    /// <summary>Sum over the batch of the per-example negative log-likelihood.</summary>
    public abstract Tensor LossSum(Tensor outputs, Tensor targets);

    /// <summary>Targets sampled from the predictive distribution at <paramref name="outputs"/> (no gradient).</summary>
    public abstract Tensor Sample(Tensor outputs, SeededRandom random);

    /// <summary>
    /// Columns S_k (each shaped like the outputs) with sum_k S_k S_k^T = the Fisher of the likelihood with respect to
    /// each example's outputs; backpropagating each gives exact per-example Fisher factors.
    /// </summary>
    public abstract IEnumerable<Tensor> FisherSqrtColumns(Tensor outputs);

    /// <summary>Number of correct predictions (classification) or 0.</summary>
    public virtual long Correct(Tensor outputs, Tensor targets) => 0;

    /// <summary>
    /// The same count as an int64 0-dimensional tensor on the outputs' device, so a step can read it together with its
    /// other scalars; the default wraps <see cref="Correct"/> (one read of its own).
    /// </summary>
    public virtual Tensor CorrectCount(Tensor outputs, Tensor targets) => torch.tensor(Correct(outputs, targets), ScalarType.Int64, outputs.device);

    sealed class CategoricalLikelihood : Likelihood
    {
        public override Tensor LossSum(Tensor outputs, Tensor targets) =>
            torch.nn.functional.cross_entropy(outputs, targets, reduction: nn.Reduction.Sum);

        public override Tensor Sample(Tensor outputs, SeededRandom random)
        {
            using var scope = torch.NewDisposeScope();
            // Inverse-CDF sampling: one uniform per example keeps the draw independent of how the batch is split.
            var p = torch.nn.functional.softmax(outputs.detach(), 1);
            var cdf = p.cumsum(1);
            var u = random.Uniform([outputs.shape[0], 1], outputs.device, outputs.dtype);
            var k = cdf.lt(u).sum(1).clamp_max(outputs.shape[1] - 1);
            return k.to_type(ScalarType.Int64).MoveToOuterDisposeScope();
        }

        public override IEnumerable<Tensor> FisherSqrtColumns(Tensor outputs)
        {
            // Fisher of softmax CE in the logits: diag(p) - p p^T = sum_k p_k (e_k - p)(e_k - p)^T.
            var p = torch.nn.functional.softmax(outputs.detach(), 1);
            long classes = outputs.shape[1];
            for (long k = 0; k < classes; k++)
            {
                using var scope = torch.NewDisposeScope();
                var e = torch.zeros_like(p);
                e[.., k] = torch.tensor(1.0, dtype: p.dtype, device: p.device);
                var column = (e - p) * p.narrow(1, k, 1).sqrt();
                yield return column.MoveToOuterDisposeScope();
            }
            p.Dispose();
        }

        public override long Correct(Tensor outputs, Tensor targets)
        {
            using var count = CorrectCount(outputs, targets);
            return (long)Devices.HostReads.Scalar(count);
        }

        public override Tensor CorrectCount(Tensor outputs, Tensor targets)
        {
            using var pred = outputs.argmax(1);
            using var eq = pred.eq(targets);
            return eq.sum();
        }
    }

    sealed class GaussianLikelihood : Likelihood
    {
        public override Tensor LossSum(Tensor outputs, Tensor targets)
        {
            using var d = outputs - targets;
            return d.square().sum() * 0.5;
        }

        public override Tensor Sample(Tensor outputs, SeededRandom random)
        {
            using var noise = random.Normal(outputs.shape, outputs.device, outputs.dtype);
            return outputs.detach() + noise;
        }

        public override IEnumerable<Tensor> FisherSqrtColumns(Tensor outputs)
        {
            for (long k = 0; k < outputs.shape[1]; k++)
            {
                var e = torch.zeros_like(outputs);
                e[.., k] = torch.tensor(1.0, dtype: outputs.dtype, device: outputs.device);
                yield return e;
            }
        }
    }
}
