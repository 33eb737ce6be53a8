using System.Text.RegularExpressions;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Curvature;

/// <summary>Which layers a second-order method preconditions: every Linear and groups=1 Conv2d unless excluded.</summary>
/// <param name="ExcludeTypes">Layer kinds to leave to the plain gradient: "linear" and/or "conv2d".</param>
/// <param name="ExcludeNames">Regular expressions; a layer whose module name matches any is left to the plain gradient.</param>
public sealed record LayerSelection(IReadOnlyList<string>? ExcludeTypes = null, IReadOnlyList<string>? ExcludeNames = null)
{
    /// <summary>Every supported layer.</summary>
    public static LayerSelection All { get; } = new();

    /// <summary>Rejects unknown type names and invalid patterns.</summary>
    public void Validate()
    {
        foreach (var t in ExcludeTypes ?? [])
            if (t is not ("linear" or "conv2d")) throw new ArgumentException($"exclude_types: '{t}' is not a layer kind (use linear or conv2d).");
        foreach (var p in ExcludeNames ?? [])
        {
            try { _ = new Regex(p); }
            catch (ArgumentException e) { throw new ArgumentException($"exclude_names: '{p}' is not a valid regular expression ({e.Message}).", e); }
        }
    }

    /// <summary>The layers of <paramref name="model"/> to precondition, with the reasons other weight-bearing modules were skipped.</summary>
    public (IReadOnlyList<PreconditionedLayer> Layers, IReadOnlyList<string> Skipped) Select(Module model)
    {
        Validate();
        var layers = new List<PreconditionedLayer>();
        var skipped = new List<string>();
        var patterns = (ExcludeNames ?? []).Select(p => new Regex(p)).ToArray();
        foreach (var (name, module) in model.named_modules())
        {
            var layer = PreconditionedLayer.TryCreate(name, module, out var reason);
            if (reason != null) skipped.Add(reason);
            if (layer == null) continue;
            var kind = layer.Conv is null ? "linear" : "conv2d";
            if ((ExcludeTypes ?? []).Contains(kind)) { skipped.Add($"{name}: excluded by type {kind}"); continue; }
            if (patterns.Any(p => p.IsMatch(name))) { skipped.Add($"{name}: excluded by name"); continue; }
            layers.Add(layer);
        }
        // named_modules() is not in forward order; a stable name order keeps state dicts and logs reproducible.
        layers.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return (layers, skipped);
    }
}
