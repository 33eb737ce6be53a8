using Fop.Cli;
using Spectre.Console.Cli;

var app = new CommandApp();
app.Configure(c =>
{
    c.SetApplicationName("fop");
    c.AddCommand<TrainCommand>("train").WithDescription("Train one run from a config (JSON) with --set key=value overrides.");
    c.AddCommand<SweepCommand>("sweep").WithDescription("Run the cross product of --grid settings, one run folder each; resumes where it stopped.");
    c.AddCommand<StudyFileCommand>("study").WithDescription("Run a study declared in a file (experiments/studies/*.json): configs x variants x seeds, paired tables with 95% intervals; resumable.");
    c.AddCommand<QuickstartCommand>("quickstart").WithDescription("Fashion-MNIST, small CNN: train every optimizer briefly, print a table, write a plot.");
    c.AddCommand<BenchCommand>("bench").WithDescription("Milliseconds per optimizer step (amortised over curvature intervals) and the ratio to SGD.");
    c.AddCommand<ReportCommand>("report").WithDescription("Figures (PNG + offline HTML) and a markdown summary for a study results folder, a run folder or a folder of runs.");
    c.AddCommand<LandscapeCommand>("landscape").WithDescription("Loss landscapes, the FOP plane and Hessian sharpness around trained checkpoints.");
    c.AddCommand<FactorErrorCommand>("factor-error").WithDescription("Relative Frobenius error of KFAC factors from a subset of examples / conv positions against the full batch's, per layer.");
    c.AddCommand<GpuCheckCommand>("gpu-check").WithDescription("Checks on a GPU: CPU and CUDA steps agree, one host read per step, CIFAR ResNet-18 trains end to end (experiments/gpu/).");
    c.AddCommand<PrepareImageNet100Command>("prepare-imagenet100").WithDescription("Build the ImageNet-100 subset (symlinks) from an ImageNet-1K folder.");
    c.PropagateExceptions();
});
try
{
    return app.Run(args);
}
catch (Exception e) when (ExitCodes.IsBadInput(e))
{
    Console.Error.WriteLine($"error: {ExitCodes.Message(e)}");
    return ExitCodes.BadInput;
}
catch (Exception e)
{
    // Anything else is a defect or a failure of the machine, not of the input: say what, keep the trace for a bug report.
    Console.Error.WriteLine($"error: {ExitCodes.Message(e)}");
    if (Environment.GetEnvironmentVariable("FOP_TRACE") == "1") Console.Error.WriteLine(e);
    else Console.Error.WriteLine("(set FOP_TRACE=1 for the stack trace)");
    return ExitCodes.Abnormal;
}
