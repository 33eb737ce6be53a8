namespace Fop.Research.Devices;

/// <summary>The ways a step can make the host wait for a GPU.</summary>
public enum SyncKind
{
    /// <summary>Tensor values read to the host (<see cref="HostReads"/>).</summary>
    HostRead,
    /// <summary>An explicit device synchronise (the trainer's per-step clock, the bench's intervals).</summary>
    Synchronize,
    /// <summary>A host-to-device copy from pageable memory, which waits for the stream; the library makes none in a step.</summary>
    BlockingCopy,
    /// <summary>The error check libtorch makes after a Cholesky factorisation or an eigendecomposition (reads its info code).</summary>
    LinalgCheck,
    /// <summary>A collective under mpirun: a device buffer is staged through host memory and back.</summary>
    Collective,
}
