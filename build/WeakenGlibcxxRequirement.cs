// MSBuild inline task (see TorchSharpNatives.targets): marks one ELF symbol-version requirement weak so
// that a shared library built against a newer libstdc++ loads on an older one.
using System;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenGlibcxxRequirement : Task
{
    [Required] public string[] Directories { get; set; } = Array.Empty<string>();
    [Required] public string VersionName { get; set; } = "";

    public override bool Execute()
    {
        if (SystemLibstdcxxHas(VersionName)) return true;
        foreach (var dir in Directories.Where(Directory.Exists))
        {
            foreach (var file in Directory.EnumerateFiles(dir, "libLibTorchSharp.so", SearchOption.AllDirectories))
            {
                try
                {
                    var n = Weaken(file, VersionName);
                    if (n > 0) Log.LogMessage(MessageImportance.High, $"Marked {VersionName} weak in {file} (libstdc++ here is older than GCC 13).");
                }
                catch (Exception e) { Log.LogWarning($"Could not patch {file}: {e.Message}"); }
            }
        }
        return !Log.HasLoggedErrors;
    }

    static bool SystemLibstdcxxHas(string version)
    {
        string[] candidates = { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6" };
        var lib = candidates.FirstOrDefault(File.Exists);
        if (lib == null) return false;
        var bytes = File.ReadAllBytes(lib);
        var needle = Encoding.ASCII.GetBytes(version + "\0");
        for (int i = 0; i + needle.Length <= bytes.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && bytes[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    // Returns how many Vernaux entries were changed (0 when already weak or absent).
    static int Weaken(string path, string version)
    {
        var b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[4] != 2 || b[5] != 1) return 0; // ELF64 LE only
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
        int changed = 0;
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(b, (int)sh + 4) != 0x6ffffffe) continue; // SHT_GNU_verneed
            long off = BitConverter.ToInt64(b, (int)sh + 24);
            int link = (int)BitConverter.ToUInt32(b, (int)sh + 40), count = (int)BitConverter.ToUInt32(b, (int)sh + 44);
            long strOff = BitConverter.ToInt64(b, (int)(shoff + (long)link * shentsize) + 24);
            long vn = off;
            for (int k = 0; k < count; k++)
            {
                int cnt = BitConverter.ToUInt16(b, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                for (int j = 0; j < cnt; j++)
                {
                    long nameAt = strOff + BitConverter.ToUInt32(b, (int)aux + 8);
                    int end = Array.IndexOf(b, (byte)0, (int)nameAt);
                    var name = Encoding.ASCII.GetString(b, (int)nameAt, end - (int)nameAt);
                    ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
                    if (name == version && (flags & 0x2) == 0)
                    {
                        flags |= 0x2; // VER_FLG_WEAK
                        BitConverter.GetBytes(flags).CopyTo(b, (int)aux + 4);
                        changed++;
                    }
                    aux += BitConverter.ToUInt32(b, (int)aux + 12);
                }
                vn += BitConverter.ToUInt32(b, (int)vn + 12);
            }
        }
        if (changed > 0)
        {
            var tmp = path + ".fop-tmp";
            File.WriteAllBytes(tmp, b);
            File.Copy(tmp, path, true);
            File.Delete(tmp);
        }
        return changed;
    }
}
