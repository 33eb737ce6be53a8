using System.Runtime.InteropServices;

namespace Fop.Cli;

/// <summary>Turns a write past the file-size limit (<c>ulimit -f</c>) into an error instead of a silent death by SIGXFSZ.</summary>
internal static class FileSizeSignal
{
    const int SigXfsz = 25;
    static readonly IntPtr Ignored = 1;

    /// <summary>
    /// Ignores SIGXFSZ, so a write beyond the limit fails with EFBIG: an <see cref="IOException"/> that the atomic writers
    /// report like a full disk (file named, previous version kept) rather than the process ending with no message.
    /// </summary>
    public static void Ignore()
    {
        if (OperatingSystem.IsLinux()) signal(SigXfsz, Ignored);
    }

    [DllImport("libc", EntryPoint = "signal")]
    static extern IntPtr signal(int signum, IntPtr handler);
}
