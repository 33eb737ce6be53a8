namespace Fop.Research.Curvature;

/// <summary>How the output-gradient factor G is estimated.</summary>
public enum FisherType
{
    /// <summary>Gradients of the loss at the true labels (free: reuses the main backward pass).</summary>
    Empirical,
    /// <summary>Labels sampled from the model's predictive distribution, one extra backward on curvature steps (ASDL's default).</summary>
    MonteCarlo,
    /// <summary>The exact expectation over labels: one backward per output dimension (for tests and small models).</summary>
    Exact,
}
