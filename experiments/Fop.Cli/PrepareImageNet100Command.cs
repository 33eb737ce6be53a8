using System.ComponentModel;
using Fop.Research.Data;
using Spectre.Console.Cli;

namespace Fop.Cli;

internal sealed class PrepareImageNet100Command : Command<PrepareImageNet100Command.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--source <DIR>"), Description("ImageNet-1K root with train/ and val/ (val sorted into class folders).")]
        public string Source { get; init; } = "";

        [CommandOption("--dest <DIR>"), Description("Where the subset goes (default datasets/imagenet100).")]
        public string Dest { get; init; } = "datasets/imagenet100";

        [CommandOption("--copy"), Description("Copy files instead of symlinking them.")]
        public bool Copy { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        if (string.IsNullOrEmpty(settings.Source)) throw new ArgumentException("--source is required.");
        var n = ImageNet100.Prepare(settings.Source, settings.Dest, settings.Copy);
        Console.WriteLine($"ImageNet-100: {n} images under {settings.Dest} ({ImageNet100.ClassIds.Count} classes).");
        return 0;
    }
}
