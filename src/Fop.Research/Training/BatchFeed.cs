using Fop.Research.Data;
using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Randomness;

namespace Fop.Research.Training;

/// <summary>
/// A run's training batches in their seeded order, ready on the model's device. A data set held as a tensor moves to a
/// GPU once (uint8) and is indexed, augmented and normalised there; a streamed folder is decoded one batch ahead on a
/// background thread while the current batch trains (memory: two batches). The batch of (epoch, step) is a function of
/// the seed alone, so prefetching, resuming and the thread count change nothing.
/// </summary>
public sealed class BatchFeed : IDisposable
{
    readonly ImageDataset data;
    readonly ImageDataset? moved;
    readonly RunConfig config;
    readonly Device device;
    (int Epoch, int Step, Task<(Tensor X, Tensor Y)> Batch)? next;

    /// <summary>Feeds <paramref name="train"/> to a model on <paramref name="device"/> as <paramref name="config"/> says (seed, batch size, augmentation).</summary>
    public BatchFeed(ImageDataset train, RunConfig config, Device device)
    {
        this.config = config;
        this.device = device;
        moved = device.type != DeviceType.CPU && !train.Streamed ? train.To(device) : null;
        data = moved ?? train;
    }

    /// <summary>
    /// The seeded order of <paramref name="epoch"/>, where the batches are indexed: with pixels on a GPU it is copied there
    /// once per epoch, so a step's indices are a slice on the device, not a copy from the host.
    /// </summary>
    public Tensor Permutation(int epoch) => BatchOrder.Permutation((int)data.Count, config.Seed, epoch, data.Store.Device);

    /// <summary>Whether batches are prepared one ahead in the background (streamed data).</summary>
    public bool Prefetches => data.Streamed;

    /// <summary>
    /// The batch of <paramref name="step"/> in <paramref name="epoch"/> (whose order is <paramref name="permutation"/>); the
    /// caller owns and disposes the two tensors. With streamed data the next step's batch starts decoding now.
    /// </summary>
    public (Tensor X, Tensor Y) Get(int epoch, int step, Tensor permutation, int stepsPerEpoch)
    {
        (Tensor X, Tensor Y) batch;
        if (next is { } n && n.Epoch == epoch && n.Step == step) batch = n.Batch.GetAwaiter().GetResult();
        else
        {
            Discard();
            batch = Prepare(epoch, step, permutation);
        }
        next = null;
        if (Prefetches && step + 1 < stepsPerEpoch)
        {
            // The permutation is shared with the caller's loop: the background task gets its own copy of the next indices.
            var indices = BatchOrder.BatchIndices(permutation, step + 1, config.BatchSize).clone().DetachFromDisposeScope();
            next = (epoch, step + 1, Task.Run(() => { using (indices) return Prepare(epoch, step + 1, indices, sliced: true); }));
        }
        return batch;
    }

    (Tensor X, Tensor Y) Prepare(int epoch, int step, Tensor source, bool sliced = false)
    {
        using var scope = torch.NewDisposeScope();
        var index = sliced ? source : BatchOrder.BatchIndices(source, step, config.BatchSize);
        var view = new ImageView(Train: true, BatchOrder.StreamSeed(config.Seed, (long)RandomPurpose.StreamedCrops, epoch, step));
        var (x, y) = data.Batch(index, view, device);
        if (!config.Augment.IsIdentity)
        {
            using var random = new SeededRandom(config.Seed, RandomPurpose.Augmentation, epoch, step);
            x = config.Augment.Apply(x, random);
        }
        return (x.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
    }

    void Discard()
    {
        if (next is not { } n) return;
        var (x, y) = n.Batch.GetAwaiter().GetResult();
        x.Dispose();
        y.Dispose();
        next = null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try { Discard(); } catch (Exception) { /* a failed prefetch has nothing left to free; its error surfaced (or would) where it was awaited */ }
        moved?.Dispose();
    }
}
