using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Data;

/// <summary>Reader for the idx format of MNIST and Fashion-MNIST (optionally gzip-compressed).</summary>
public static class IdxFile
{
    /// <summary>Reads an idx3 image file into a uint8 tensor (N, 1, rows, cols).</summary>
    public static Tensor ReadImages(string path)
    {
        var (dims, data) = Read(path, expectedMagic: 0x00000803, expectedDims: 3);
        return torch.tensor(data, dtype: ScalarType.Byte).view(dims[0], 1, dims[1], dims[2]);
    }

    /// <summary>Reads an idx1 label file into an int64 tensor (N).</summary>
    public static Tensor ReadLabels(string path)
    {
        var (dims, data) = Read(path, expectedMagic: 0x00000801, expectedDims: 1);
        using var bytes = torch.tensor(data, dtype: ScalarType.Byte);
        return bytes.to_type(ScalarType.Int64).view(dims[0]);
    }

    static (int[] Dims, byte[] Data) Read(string path, int expectedMagic, int expectedDims)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.", path);
        byte[] bytes;
        try
        {
            using var file = File.OpenRead(path);
            using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            bytes = memory.ToArray();
        }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: not a valid gzip file ({e.Message}).", e); }

        if (bytes.Length < 4 + 4 * expectedDims) throw new InvalidDataException($"{path}: {bytes.Length} bytes is too short for an idx header.");
        int magic = BigEndian(bytes, 0);
        if (magic != expectedMagic) throw new InvalidDataException($"{path}: idx magic 0x{magic:x8}, expected 0x{expectedMagic:x8}.");
        var dims = new int[expectedDims];
        long total = 1;
        for (int i = 0; i < expectedDims; i++)
        {
            dims[i] = BigEndian(bytes, 4 + 4 * i);
            if (dims[i] <= 0) throw new InvalidDataException($"{path}: dimension {i} is {dims[i]}.");
            total *= dims[i];
        }
        int header = 4 + 4 * expectedDims;
        if (bytes.Length - header != total)
            throw new InvalidDataException($"{path}: header promises {total} bytes of data ({string.Join(" x ", dims)}) but the file holds {bytes.Length - header} (truncated or corrupt).");
        return (dims, bytes.AsSpan(header).ToArray());
    }

    static int BigEndian(byte[] b, int at) => (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];

    /// <summary>Writes images (N, rows, cols) of bytes in idx3 format, gzip-compressed when the path ends in .gz (for tests and tools).</summary>
    public static void WriteImages(string path, byte[] data, int count, int rows, int cols) =>
        Write(path, 0x00000803, [count, rows, cols], data);

    /// <summary>Writes labels in idx1 format, gzip-compressed when the path ends in .gz (for tests and tools).</summary>
    public static void WriteLabels(string path, byte[] labels) => Write(path, 0x00000801, [labels.Length], labels);

    static void Write(string path, int magic, int[] dims, byte[] data)
    {
        using var file = File.Create(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionLevel.Fastest) : file;
        void Put(int v) { stream.WriteByte((byte)(v >> 24)); stream.WriteByte((byte)(v >> 16)); stream.WriteByte((byte)(v >> 8)); stream.WriteByte((byte)v); }
        Put(magic);
        foreach (var d in dims) Put(d);
        stream.Write(data);
    }
}
