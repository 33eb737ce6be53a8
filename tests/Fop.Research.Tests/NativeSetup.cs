using System.Runtime.CompilerServices;

namespace Fop.Research.Tests;

/// <summary>Makes TorchSharp loadable before any test touches it, exactly as a program using the packages does.</summary>
internal static class NativeSetup
{
    [ModuleInitializer]
    internal static void Initialize() => Platform.TorchSharpNatives.EnsureLoadable();
}
