using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Devices;

/// <summary>
/// Every read of tensor values back to the host made by an optimizer step goes through here. On a GPU each read waits
/// for the device to finish (a synchronisation), so the step keeps its scalars (loss, s, beta, eta, the KL-clip factor,
/// finite checks) on the device and reads them together; the count per thread lets a test hold it to that.
/// </summary>
public static class HostReads
{
    /// <summary>Reads made on this thread so far (also counted by <see cref="DeviceSyncs"/>, with the other kinds of wait).</summary>
    public static long Count => DeviceSyncs.Counts.HostReads;

    /// <summary>The values of <paramref name="t"/> as doubles, in one read.</summary>
    public static double[] Doubles(Tensor t)
    {
        DeviceSyncs.Note(SyncKind.HostRead);
        using var host = t.detach().to_type(ScalarType.Float64).cpu();
        return host.data<double>().ToArray();
    }

    /// <summary>A one-element tensor as a double, in one read.</summary>
    public static double Scalar(Tensor t) => Doubles(t)[0];

    /// <summary>Several one-element tensors (any dtype, same device) as doubles, in one read.</summary>
    public static double[] Scalars(params Tensor[] values)
    {
        using var scope = torch.NewDisposeScope();
        return Doubles(torch.stack(values.Select(v => v.reshape(1).to_type(ScalarType.Float64)).ToArray()));
    }

    /// <summary>A 0-dimensional float64 tensor holding <paramref name="value"/> on <paramref name="device"/>.</summary>
    public static Tensor Constant(double value, Device device) => torch.tensor(value, ScalarType.Float64, device);

    /// <summary>True (as a 0-dimensional bool tensor, on the device) when every element of every tensor is finite; no read.</summary>
    public static Tensor AllFinite(IEnumerable<Tensor> tensors, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var flags = tensors.Select(t => t.isfinite().all()).ToArray();
        var all = flags.Length == 0 ? torch.tensor(true, device: device) : torch.stack(flags).all();
        return all.MoveToOuterDisposeScope();
    }
}
