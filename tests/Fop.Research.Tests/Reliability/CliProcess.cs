using System.Diagnostics;

namespace Fop.Research.Tests.Reliability;

/// <summary>Runs the `fop` command line (built next to the tests) as a separate process, optionally killing it after a delay.</summary>
internal static class CliProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr, bool Killed);

    static string Dll => Path.Combine(AppContext.BaseDirectory, "fop.dll");

    public static Result Run(IEnumerable<string> args, TimeSpan? killAfter = null, IDictionary<string, string>? env = null, TimeSpan? timeout = null, Func<bool>? killWhen = null)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // The test host runs under `dotnet`; if not, fall back to the dotnet on the PATH.
        if (!Path.GetFileNameWithoutExtension(info.FileName).Equals("dotnet", StringComparison.OrdinalIgnoreCase)) info.FileName = "dotnet";
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["GLIBC_TUNABLES"] = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184";
        info.Environment["TERM"] = "dumb";
        if (env != null) foreach (var (k, v) in env) info.Environment[k] = v;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        bool killed = false;
        if (killAfter is TimeSpan delay && !process.WaitForExit(delay))
        {
            process.Kill();     // SIGKILL: no handler runs, exactly like a crash or an OOM kill
            killed = true;
        }
        if (killWhen is not null)
        {
            // Polled, so the kill lands at a given point of progress whatever the machine's load, at a random moment within a step.
            while (!process.HasExited && !killWhen()) Thread.Sleep(7);
            if (!process.HasExited) { process.Kill(); killed = true; }
        }
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(3))) { process.Kill(); throw new TimeoutException($"fop {string.Join(' ', args)} did not finish"); }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.Result, stderr.Result, killed);
    }
}
