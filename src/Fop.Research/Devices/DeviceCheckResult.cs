namespace Fop.Research.Devices;

/// <summary>One check of the code on an accelerator: its name, whether it passed, and what was measured.</summary>
public sealed record DeviceCheckResult(string Name, bool Passed, string Detail);
