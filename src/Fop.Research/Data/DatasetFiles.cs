using System.Security.Cryptography;

namespace Fop.Research.Data;

/// <summary>One file of a published data set: its name, where it is officially served and its SHA-256.</summary>
public sealed record RemoteFile(string Name, string Url, string Sha256);

/// <summary>Finds the files of a data set on disk, downloading and verifying them when they are absent.</summary>
/// <remarks>
/// Search order: the explicit directory (<c>--data-dir</c>), the <c>FOP_DATA</c> environment variable
/// (as a root holding one folder per data set), the repository's <c>datasets/</c> folder, then the
/// system folders a package manager fills. The first folder holding every file wins.
/// </remarks>
public static class DatasetFiles
{
    /// <summary>Environment variable naming a root folder that holds one sub-folder per data set.</summary>
    public const string EnvironmentVariable = "FOP_DATA";

    /// <summary>The folders searched for <paramref name="datasetFolder"/>, in order.</summary>
    public static IReadOnlyList<string> Candidates(string datasetFolder, string? explicitDir, IEnumerable<string> systemDirs)
    {
        var list = new List<string>();
        if (!string.IsNullOrWhiteSpace(explicitDir))
        {
            // An explicit folder that does not exist is a typo, not a reason to use some other copy that the run would not record.
            if (!Directory.Exists(explicitDir)) throw new DirectoryNotFoundException($"data_dir {explicitDir}: no such folder.");
            list.Add(explicitDir);
            list.Add(Path.Combine(explicitDir, datasetFolder));
        }
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env))
        {
            list.Add(Path.Combine(env, datasetFolder));
            list.Add(env);
        }
        var repo = RepositoryRoot();
        if (repo != null) list.Add(Path.Combine(repo, "datasets", datasetFolder));
        list.AddRange(systemDirs);
        return list;
    }

    /// <summary>The first candidate folder that holds all <paramref name="fileNames"/>, or null.</summary>
    public static string? Find(IEnumerable<string> candidates, IReadOnlyCollection<string> fileNames)
    {
        foreach (var dir in candidates)
        {
            // A folder where a data file should be is a broken copy, not a reason to fall through to another copy silently.
            var folder = fileNames.Select(f => Path.Combine(dir, f)).FirstOrDefault(Directory.Exists);
            if (folder is not null) throw new InvalidDataException($"{folder}: is a directory, expected a data file.");
            if (fileNames.All(f => File.Exists(Path.Combine(dir, f)))) return dir;
        }
        return null;
    }

    /// <summary>
    /// What is missing where a data set was partly found: the first candidate folder holding some but not all of
    /// <paramref name="fileNames"/>, and the files it lacks (null when no folder holds any).
    /// </summary>
    public static string? Incomplete(IEnumerable<string> candidates, IReadOnlyCollection<string> fileNames)
    {
        foreach (var dir in candidates)
        {
            var missing = fileNames.Where(f => !File.Exists(Path.Combine(dir, f))).ToList();
            if (missing.Count > 0 && missing.Count < fileNames.Count)
                return $"{dir} holds part of it but lacks {string.Join(", ", missing.Select(f => Path.Combine(dir, f)))}.";
        }
        return null;
    }

    /// <summary>The repository root (the folder holding Fop.Research.sln) above the working directory or the assembly, or null.</summary>
    public static string? RepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Fop.Research.sln"))) return dir.FullName;
        }
        return null;
    }

    /// <summary>Downloads each file into <paramref name="targetDir"/> and checks its SHA-256; throws with instructions on failure.</summary>
    public static void Download(IReadOnlyList<RemoteFile> files, string targetDir, string howToGetManually, Action<string>? log = null)
    {
        Directory.CreateDirectory(targetDir);
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(10) };
        foreach (var file in files)
        {
            var dest = Path.Combine(targetDir, file.Name);
            if (File.Exists(dest) && Sha256Of(dest) == file.Sha256) continue;
            log?.Invoke($"downloading {file.Url}");
            var tmp = dest + ".partial";
            try
            {
                using (var response = http.GetAsync(file.Url, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult())
                {
                    response.EnsureSuccessStatusCode();
                    using var output = File.Create(tmp);
                    response.Content.ReadAsStream().CopyTo(output);
                }
                var actual = Sha256Of(tmp);
                if (actual != file.Sha256)
                    throw new InvalidDataException($"{file.Url}: SHA-256 {actual} does not match the published {file.Sha256}.");
                File.Move(tmp, dest, overwrite: true);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or InvalidDataException)
            {
                if (File.Exists(tmp)) File.Delete(tmp);
                throw new DatasetUnavailableException($"Could not download {file.Name} ({e.Message}).\n{howToGetManually}", e);
            }
        }
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>A data set is not on disk and could not be fetched; the message says how to get it.</summary>
public sealed class DatasetUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
