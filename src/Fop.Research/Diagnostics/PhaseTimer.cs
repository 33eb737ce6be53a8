using System.Diagnostics;

namespace Fop.Research.Diagnostics;

/// <summary>The parts of an optimizer step that are timed separately.</summary>
public enum StepPhase
{
    /// <summary>Forward passes and the loss.</summary>
    Forward,
    /// <summary>The backward passes of the loss.</summary>
    Backward,
    /// <summary>Curvature capture, sampled-label backward, factor products, decompositions.</summary>
    Curvature,
    /// <summary>Everything else: gradient copies, preconditioning, projection, clipping, the update rule.</summary>
    Update,
}

/// <summary>
/// Wall time per <see cref="StepPhase"/>, accumulated over steps. Forward, backward and curvature are timed where they
/// happen; the update phase is the rest of the step, so the phases always add up to the step's time.
/// </summary>
public sealed class PhaseTimer
{
    readonly double[] totals = new double[Enum.GetValues<StepPhase>().Length];
    readonly Action? synchronize;

    /// <summary>Creates a timer; <paramref name="synchronize"/> (e.g. cuda synchronize) runs at each lap boundary so asynchronous devices are timed honestly.</summary>
    public PhaseTimer(Action? synchronize = null) => this.synchronize = synchronize;

    /// <summary>Milliseconds accumulated in <paramref name="phase"/>.</summary>
    public double Milliseconds(StepPhase phase) => totals[(int)phase];

    /// <summary>Sets every total to zero.</summary>
    public void Reset() => Array.Clear(totals);

    /// <summary>Times whole steps: the step's time minus the timed phases goes to <see cref="StepPhase.Update"/>.</summary>
    public Lap Step() => new(this, null);

    /// <summary>A lap of <paramref name="phase"/> on <paramref name="timer"/>; does nothing when the timer is null.</summary>
    public static Lap Time(PhaseTimer? timer, StepPhase phase) => timer is null ? default : new(timer, phase);

    /// <summary>One timed interval; dispose to record it.</summary>
    public readonly struct Lap : IDisposable
    {
        readonly PhaseTimer? timer;
        readonly StepPhase? phase;
        readonly long start;
        readonly double othersAtStart;

        internal Lap(PhaseTimer timer, StepPhase? phase)
        {
            this.timer = timer;
            this.phase = phase;
            timer.synchronize?.Invoke();
            othersAtStart = phase is null ? timer.totals.Sum() : 0;
            start = Stopwatch.GetTimestamp();
        }

        /// <inheritdoc />
        public void Dispose()
        {
            if (timer is null) return;
            timer.synchronize?.Invoke();
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (phase is StepPhase p) timer.totals[(int)p] += ms;
            else timer.totals[(int)StepPhase.Update] += Math.Max(0, ms - (timer.totals.Sum() - othersAtStart));
        }
    }
}
