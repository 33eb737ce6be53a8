using System.Text.Json.Serialization;

namespace Fop.Research.Optim;

/// <summary>The optimizers a run config names (JSON: sgd, adamw, kfac, fop, shampoo, soap, muon).</summary>
public enum OptimizerKind
{
    /// <summary>SGD with momentum and weight decay.</summary>
    Sgd,
    /// <summary>AdamW.</summary>
    [JsonStringEnumMemberName("adamw")]
    AdamW,
    /// <summary>KFAC (<see cref="Optim.Kfac"/>).</summary>
    Kfac,
    /// <summary>Fisher-orthogonal projection (<see cref="FopOptimizer"/>).</summary>
    Fop,
    /// <summary>Shampoo with grafting.</summary>
    Shampoo,
    /// <summary>SOAP: Adam in Shampoo's eigenbasis.</summary>
    Soap,
    /// <summary>Muon: orthogonalised momentum for weight matrices, AdamW for the rest.</summary>
    Muon,
}
