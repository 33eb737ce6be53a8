using System.Security.Cryptography;
using System.Text;
using Fop.Research.Io;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Training;

/// <summary>
/// A run's checkpoint file: trainer state as JSON, then the model's and the optimizer's named tensors, then a SHA-256 of
/// everything before it. Written atomically, so a run killed while saving keeps its previous checkpoint; a damaged file
/// is recognised by its hash before any tensor is parsed.
/// </summary>
public static class Checkpoint
{
    const string Magic = "FOPCKPT2";
    const int HashBytes = 32;

    /// <summary>Writes the checkpoint atomically.</summary>
    public static void Save(string path, string trainerStateJson, IReadOnlyDictionary<string, Tensor> model, IReadOnlyDictionary<string, Tensor> optimizer) =>
        AtomicFile.Write(path, file =>
        {
            using var hashing = new HashingStream(file);
            using (var writer = new BinaryWriter(hashing, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(Magic);
                writer.Write(trainerStateJson);
                WriteTensors(writer, model);
                writer.Flush();
                FaultInjection.InsideCheckpointWrite();
                WriteTensors(writer, optimizer);
            }
            file.Write(hashing.Hash());
        });

    /// <summary>Reads a checkpoint; the tensors are on the CPU. A truncated, altered or foreign file is an <see cref="InvalidDataException"/> naming it.</summary>
    public static (string TrainerStateJson, Dictionary<string, Tensor> Model, Dictionary<string, Tensor> Optimizer) Load(string path)
    {
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: is a directory, expected a checkpoint file.");
        // Streamed, twice (hash, then tensors): a checkpoint of a large model can exceed the 2 GB a byte array holds.
        FileStream file;
        try { file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new InvalidDataException($"{path}: checkpoint could not be read ({e.Message}).", e); }
        using (file)
        try
        {
            long length = file.Length;
            if (length < Magic.Length + 1 + HashBytes) throw new InvalidDataException($"{path}: checkpoint is truncated or empty ({length} bytes).");
            var head = new byte[1 + Magic.Length];
            file.ReadExactly(head);
            if (Encoding.ASCII.GetString(head, 1, Magic.Length) != Magic)
                throw new InvalidDataException($"{path}: not a Fop.Research checkpoint of format {Magic}.");
            file.Position = 0;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 20];
            for (long remaining = length - HashBytes; remaining > 0;)
            {
                int n = file.Read(buffer, 0, (int)Math.Min(buffer.Length, remaining));
                if (n == 0) throw new EndOfStreamException();
                hash.AppendData(buffer, 0, n);
                remaining -= n;
            }
            var stored = new byte[HashBytes];
            file.ReadExactly(stored);
            if (!hash.GetHashAndReset().AsSpan().SequenceEqual(stored))
                throw new InvalidDataException($"{path}: checkpoint is corrupt (its SHA-256 does not match; truncated or altered). Delete it to restart the run, or restore a copy.");
            file.Position = 0;
            using var reader = new BinaryReader(file, Encoding.UTF8, leaveOpen: true);
            reader.ReadString();
            var json = reader.ReadString();
            return (json, ReadTensors(reader), ReadTensors(reader));
        }
        catch (Exception e) when (e is not InvalidDataException and (EndOfStreamException or IOException or ArgumentException or FormatException))
        {
            throw new InvalidDataException($"{path}: checkpoint content is unreadable ({e.Message}).", e);
        }
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

    /// <summary>A write-only pass-through stream that hashes what goes through it.</summary>
    sealed class HashingStream(Stream inner) : Stream
    {
        readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        public byte[] Hash() => hash.GetHashAndReset();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer) { hash.AppendData(buffer); inner.Write(buffer); }
        public override void WriteByte(byte value) => Write([value]);
        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        protected override void Dispose(bool disposing) { if (disposing) hash.Dispose(); base.Dispose(disposing); }
    }
}
