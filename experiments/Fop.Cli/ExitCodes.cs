using Spectre.Console.Cli;

namespace Fop.Cli;

/// <summary>The command's exit codes (docs/failure-behaviour.md) and which exceptions count as bad input.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Done = 0;
    /// <summary>A run ended abnormally (diverged or abandoned as stalled), or an unexpected failure.</summary>
    public const int Abnormal = 1;
    /// <summary>Bad input: a config, a --set value, a data file, a checkpoint or a record that is missing, invalid or unwritable.</summary>
    public const int BadInput = 2;

    /// <summary>Whether <paramref name="e"/> (or the single exception inside an aggregate) reports bad input.</summary>
    public static bool IsBadInput(Exception e) => Unwrap(e) is ArgumentException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException
        or IOException or UnauthorizedAccessException or Fop.Research.Data.DatasetUnavailableException or CommandParseException or CommandRuntimeException;

    /// <summary>The message of the innermost meaningful exception.</summary>
    public static string Message(Exception e) => Unwrap(e) switch
    {
        ArgumentException a => Fop.Research.Training.ConfigFile.Describe(a),
        var inner => inner.Message.ReplaceLineEndings(" ").Trim(),
    };

    static Exception Unwrap(Exception e) => e is AggregateException { InnerExceptions.Count: >= 1 } a ? Unwrap(a.InnerExceptions[0]) : e;
}
