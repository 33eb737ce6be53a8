namespace Fop.Research.Io;

/// <summary>Another process is training into the same run folder.</summary>
public sealed class RunFolderBusyException(string message) : IOException(message);

/// <summary>
/// Exclusive use of a run folder while a run trains into it, so that two runs started into the same folder cannot mix their
/// config, logs and checkpoint. The lock is the operating system's advisory lock on <c>.fop.lock</c> in the folder: it ends
/// with the process however the process ends (a kill -9 leaves a folder that resumes), and a second process is refused at once.
/// Re-entrant within a process (a command that prepares a fork and then trains it holds it twice).
/// </summary>
public sealed class RunFolderLock : IDisposable
{
    /// <summary>The lock file's name inside the run folder.</summary>
    public const string FileName = ".fop.lock";

    static readonly Dictionary<string, (FileStream Stream, int Count)> held = new(StringComparer.Ordinal);
    readonly string path;
    bool disposed;

    RunFolderLock(string path) => this.path = path;

    /// <summary>Locks <paramref name="runDir"/> (created if missing) or throws <see cref="RunFolderBusyException"/> naming it.</summary>
    public static RunFolderLock Acquire(string runDir)
    {
        var path = Path.Combine(Path.GetFullPath(runDir), FileName);
        lock (held)
        {
            if (held.TryGetValue(path, out var entry))
            {
                held[path] = (entry.Stream, entry.Count + 1);
                return new RunFolderLock(path);
            }
            Directory.CreateDirectory(runDir);
            FileStream stream;
            // On Linux and macOS .NET takes FileShare.None as an exclusive, non-blocking flock on the open file.
            try { stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && File.Exists(path))
            {
                throw new RunFolderBusyException($"{runDir}: another fop process is training into this run folder (it holds {FileName}). " +
                    "Wait for it to finish, or give this run another name or --out.");
            }
            held[path] = (stream, 1);
            return new RunFolderLock(path);
        }
    }

    /// <summary>Releases this hold; the lock ends with the last one.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        lock (held)
        {
            var (stream, count) = held[path];
            if (count > 1) { held[path] = (stream, count - 1); return; }
            held.Remove(path);
            stream.Dispose();
        }
    }
}
