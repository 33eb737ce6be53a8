using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Io;

/// <summary>One tensor written by <see cref="RawTensorFolder"/>: its name, shape, dtype (numpy's name) and file, relative to the folder.</summary>
public sealed record RawTensorEntry(string Name, long[] Shape, string Dtype, string File)
{
    /// <summary>The entry as a JSON object with keys name, shape, dtype, file.</summary>
    public JsonObject ToJson() => new()
    {
        ["name"] = Name,
        ["shape"] = new JsonArray(Shape.Select(s => (JsonNode)s).ToArray()),
        ["dtype"] = Dtype,
        ["file"] = File,
    };
}

/// <summary>
/// Tensors as raw little-endian files (row-major, no header) in one folder, each described by a <see cref="RawTensorEntry"/>,
/// so that a program without .NET reads them with numpy alone: <c>np.fromfile(file, dtype).reshape(shape)</c>.
/// </summary>
public sealed class RawTensorFolder
{
    readonly string dir;
    int count;

    /// <summary>Writes into <paramref name="dir"/> (created when missing).</summary>
    public RawTensorFolder(string dir)
    {
        // Little-endian is what the manifest promises; a big-endian host would have to swap bytes, and none runs TorchSharp.
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("raw tensor files are little-endian; this machine is not.");
        this.dir = dir;
        Directory.CreateDirectory(dir);
    }

    /// <summary>Writes <paramref name="tensor"/> (float64, float32 or int64, any device) as the next file and returns its entry.</summary>
    public RawTensorEntry Write(string name, Tensor tensor)
    {
        using var scope = torch.NewDisposeScope();
        var t = tensor.detach().cpu().contiguous();
        // A running number keeps files unique whatever the names; the name part only helps a person looking at the folder.
        var file = $"{count++:D4}-{string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_'))}.bin";
        using var stream = new FileStream(Path.Combine(dir, file), FileMode.Create, FileAccess.Write);
        string dtype;
        switch (t.dtype)
        {
            case ScalarType.Float64: stream.Write(MemoryMarshal.AsBytes(t.data<double>().ToArray().AsSpan())); dtype = "float64"; break;
            case ScalarType.Float32: stream.Write(MemoryMarshal.AsBytes(t.data<float>().ToArray().AsSpan())); dtype = "float32"; break;
            case ScalarType.Int64: stream.Write(MemoryMarshal.AsBytes(t.data<long>().ToArray().AsSpan())); dtype = "int64"; break;
            default: throw new ArgumentException($"{name}: dtype {t.dtype} cannot be written as a raw tensor (float64, float32 or int64).");
        }
        return new RawTensorEntry(name, t.shape, dtype, file);
    }
}
