using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Fop.Research.Optim;

/// <summary>
/// Muon (Jordan et al. 2024, "Muon: an optimizer for hidden layers"): momentum orthogonalised by Newton-Schulz for weight
/// matrices (a conv kernel as (out, in*kh*kw), see <see cref="MatrixView"/>), AdamW for 1-D parameters and for any
/// parameter <see cref="AdamWParameters"/> names (Muon's authors give embeddings and the output layer to AdamW).
/// Validated by <see cref="Validate"/>, which the optimizer calls at construction.
/// </summary>
public sealed record MuonOptions
{
    /// <summary>Momentum beta: the buffer is beta buf + (1 - beta) g.</summary>
    public double Momentum { get; init; } = 0.95;
    /// <summary>Orthogonalise (1 - beta) g + beta buf instead of the buffer itself.</summary>
    public bool Nesterov { get; init; } = true;
    /// <summary>Newton-Schulz iterations.</summary>
    public int NewtonSchulzSteps { get; init; } = 5;
    /// <summary>Decoupled weight decay of the Muon-stepped matrices: p &lt;- p (1 - lr wd) - lr update.</summary>
    public double WeightDecay { get; init; }
    /// <summary>AdamW's learning rate as a multiple of the run's (the schedule scales both): 0.015 is the reference's 3e-4 beside Muon's 0.02.</summary>
    [JsonPropertyName("adamw_lr_ratio")]
    public double AdamWLrRatio { get; init; } = 0.015;
    /// <summary>AdamW's settings for the other parameters (the reference's betas (0.9, 0.95), eps 1e-10, no weight decay).</summary>
    [JsonPropertyName("adamw")]
    public AdamWOptions AdamW { get; init; } = new(0.9, 0.95, 1e-10, 0);
    /// <summary>Regular expression of parameter names stepped by AdamW even when they are matrices (null: 1-D parameters only).</summary>
    [JsonPropertyName("adamw_parameters")]
    public string? AdamWParameters { get; init; }

    /// <summary>The reference defaults above: momentum 0.95 with Nesterov, 5 Newton-Schulz steps, AdamW at 0.015 of the rate.</summary>
    public static MuonOptions Default { get; } = new();

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "muon.momentum must lie in [0, 1).");
        if (Nesterov && Momentum == 0) throw new ArgumentException("muon.nesterov needs muon.momentum > 0.");
        if (NewtonSchulzSteps < 1) throw new ArgumentOutOfRangeException(nameof(NewtonSchulzSteps), NewtonSchulzSteps, "muon.newton_schulz_steps must be >= 1.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "muon.weight_decay must be >= 0.");
        if (!(AdamWLrRatio > 0) || double.IsInfinity(AdamWLrRatio)) throw new ArgumentOutOfRangeException(nameof(AdamWLrRatio), AdamWLrRatio, "muon.adamw_lr_ratio must be > 0.");
        AdamW.Validate();
        if (AdamWParameters is { } pattern)
        {
            try { _ = new Regex(pattern); }
            catch (ArgumentException e) { throw new ArgumentException($"muon.adamw_parameters '{pattern}' is not a regular expression ({e.Message}).", e); }
        }
    }

    /// <summary>True when parameter <paramref name="name"/> is stepped by AdamW by name.</summary>
    public bool SendsToAdamW(string name) => AdamWParameters is { } pattern && Regex.IsMatch(name, pattern);
}
