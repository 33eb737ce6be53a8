using System.Text;

namespace Fop.Research.Io;

/// <summary>
/// Writes files so that a reader only ever sees the old content or the complete new one: the bytes go to a temporary
/// file beside the target, are flushed to disk, and the temporary file is renamed over the target.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="write"/>'s bytes to <paramref name="path"/> atomically; on failure the previous file is untouched.</summary>
    public static void Write(string path, Action<Stream> write) => Replace(path, tmp =>
    {
        using var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None);
        write(stream);
        stream.Flush(flushToDisk: true);
    });

    /// <summary>Has <paramref name="produce"/> write a temporary file beside <paramref name="path"/>, then renames it over the target.</summary>
    static void Replace(string path, Action<string> produce)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        // The temporary file keeps the target's extension so that writers choosing a format by extension still work.
        var tmp = Path.Combine(dir, $".{Path.GetFileNameWithoutExtension(full)}.{Environment.ProcessId}.tmp{Path.GetExtension(full)}");
        try
        {
            Directory.CreateDirectory(dir);
            produce(tmp);
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException || IsFileTooLarge(e))
        {
            TryDelete(tmp);
            throw new IOException($"{path}: could not be written ({Reason(e)}); the previous version, if any, is unchanged.", e);
        }
    }

    /// <summary>
    /// Whether <paramref name="e"/> is a write refused for exceeding the file-size limit (EFBIG, e.g. under <c>ulimit -f</c>):
    /// .NET reports it as an <see cref="ArgumentOutOfRangeException"/>, but it is a failed write like a full disk.
    /// </summary>
    public static bool IsFileTooLarge(Exception e) => e is ArgumentOutOfRangeException { ParamName: "value" } a && a.Message.Contains("too large for the file system", StringComparison.Ordinal);

    /// <summary>Why a write failed, in one line.</summary>
    public static string Reason(Exception e) => IsFileTooLarge(e) ? "the file would exceed the file-size limit" : e.Message.ReplaceLineEndings(" ");

    /// <summary>Writes UTF-8 text atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { var bytes = new UTF8Encoding(false).GetBytes(text); s.Write(bytes); });

    /// <summary>Writes lines (each ended by a newline) atomically.</summary>
    public static void WriteAllLines(string path, IEnumerable<string> lines)
    {
        var builder = new StringBuilder();
        foreach (var line in lines) builder.Append(line).Append('\n');
        WriteAllText(path, builder.ToString());
    }

    static void TryDelete(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
