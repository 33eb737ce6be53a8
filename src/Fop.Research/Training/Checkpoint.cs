using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Training;

/// <summary>
/// A run's checkpoint file: trainer state as JSON, then the model's and the optimizer's named tensors. Written to a
/// temporary file and renamed, so a run killed while saving keeps its previous checkpoint.
/// </summary>
public static class Checkpoint
{
    const string Magic = "FOPCKPT1";

    /// <summary>Writes the checkpoint atomically.</summary>
    public static void Save(string path, string trainerStateJson, IReadOnlyDictionary<string, Tensor> model, IReadOnlyDictionary<string, Tensor> optimizer)
    {
        var tmp = path + ".tmp";
        using (var stream = File.Create(tmp))
        using (var writer = new BinaryWriter(stream, Encoding.UTF8))
        {
            writer.Write(Magic);
            writer.Write(trainerStateJson);
            WriteTensors(writer, model);
            WriteTensors(writer, optimizer);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads a checkpoint; the tensors are on the CPU.</summary>
    public static (string TrainerStateJson, Dictionary<string, Tensor> Model, Dictionary<string, Tensor> Optimizer) Load(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            if (reader.ReadString() != Magic) throw new InvalidDataException($"{path}: not a Fop.Research checkpoint.");
            var json = reader.ReadString();
            return (json, ReadTensors(reader), ReadTensors(reader));
        }
        catch (EndOfStreamException e) { throw new InvalidDataException($"{path}: checkpoint is truncated.", e); }
    }

    static void WriteTensors(BinaryWriter writer, IReadOnlyDictionary<string, Tensor> tensors)
    {
        writer.Write(tensors.Count);
        foreach (var (name, t) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            writer.Write(name);
            using var cpu = t.detach().cpu().contiguous();
            cpu.Save(writer);
        }
    }

    static Dictionary<string, Tensor> ReadTensors(BinaryReader reader)
    {
        int n = reader.ReadInt32();
        var result = new Dictionary<string, Tensor>(n);
        for (int i = 0; i < n; i++)
        {
            var name = reader.ReadString();
            result[name] = TensorExtensionMethods.Load(reader);
        }
        return result;
    }
}
