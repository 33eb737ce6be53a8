using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Optim;

/// <summary>
/// A weight matrix cut into blocks of at most a given number of rows and columns, as Distributed Shampoo blocks large
/// parameters: each block gets its own factors, so no factor is larger than the limit squared. Blocks are numbered row by row.
/// </summary>
public sealed class MatrixBlocks
{
    readonly long[] rowSizes, colSizes;

    /// <summary>Blocks of a (<paramref name="rows"/>, <paramref name="cols"/>) matrix with sides of at most <paramref name="maxDim"/>.</summary>
    public MatrixBlocks(long rows, long cols, int maxDim)
    {
        if (maxDim < 1) throw new ArgumentOutOfRangeException(nameof(maxDim), maxDim, "max_preconditioner_dim must be >= 1.");
        rowSizes = Sizes(rows, maxDim);
        colSizes = Sizes(cols, maxDim);
    }

    static long[] Sizes(long n, int max) => Enumerable.Range(0, (int)((n + max - 1) / max)).Select(i => Math.Min(max, n - (long)i * max)).ToArray();

    /// <summary>Number of blocks.</summary>
    public int Count => rowSizes.Length * colSizes.Length;

    /// <summary>The blocks of matrix <paramref name="m"/> (views), row by row.</summary>
    public IReadOnlyList<Tensor> Split(Tensor m)
    {
        var list = new List<Tensor>(Count);
        foreach (var row in m.split(rowSizes, 0))
            list.AddRange(row.split(colSizes, 1));
        return list;
    }

    /// <summary>The matrix whose blocks are <paramref name="blocks"/> (row by row): a new tensor, or the block itself when there is one.</summary>
    public Tensor Join(IReadOnlyList<Tensor> blocks)
    {
        if (blocks.Count == 1) return blocks[0];
        int columns = colSizes.Length;
        var rows = Enumerable.Range(0, rowSizes.Length).Select(r => torch.cat(blocks.Skip(r * columns).Take(columns).ToArray(), 1)).ToArray();
        return torch.cat(rows, 0);
    }
}
