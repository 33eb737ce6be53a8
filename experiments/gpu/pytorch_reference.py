"""PyTorch reference for the GPU check (torch + numpy + the standard library; torch 1.13 and 2.x, CPU or CUDA).

Timing (default): SGD, KFAC and FOP whole steps on CIFAR ResNet-18 (3x3 stem, no max-pool, BasicBlocks [2, 2, 2, 2];
reference_models.py mirrors the toolkit's) with the settings `fop bench` uses: lr 1e-3, momentum 0.9, coupled weight
decay 5e-4, mean cross-entropy on one fixed random batch; KFAC/FOP as the toolkit's defaults (Monte-Carlo Fisher, fresh
factors, pi-split damping --damping, no KL clip) with curvature and inverses every --interval steps (fop_reference.py).
Timed like `fop bench`'s whole steps: --warmup steps, then --rounds rounds of --steps steps, the device synchronised only
at each round's ends; the median of the rounds' ms/step with their range; peak memory from torch.cuda.

    python3 experiments/gpu/pytorch_reference.py [--batches 512 2048 8192] [--optimizers sgd,kfac,fop] [--json out.json]
    python3 experiments/gpu/pytorch_reference.py --device cpu --batches 16 --rounds 1      # runs anywhere (slowly)
    python3 experiments/gpu/pytorch_reference.py --device cpu --model smallcnn-bn --image 12 --batches 8 --rounds 1 \
        --steps 2 --warmup 1 --interval 2                                                  # the timing path in seconds

--compare DIR: replays a step case written by `fop reference-step --out DIR` (step_case.py), prints the largest relative
error per optimizer and tensor, writes them as JSON (--json, default DIR/comparison.json) and exits 1 when one exceeds
the tolerance: 1e-8 in float64; in float32, 4 times the reference's own float32 error (its float32 replay against a
float64 one), at least 1e-3; --tolerance sets one instead. Exit 2: the case cannot be read or asks for what is not here.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fop_reference  # noqa: E402
import reference_models  # noqa: E402
import step_case  # noqa: E402


def bench_config(interval, damping):
    """The options `fop bench` gives every optimizer (config defaults, its --interval and --damping), as the config JSON has them."""
    return {
        "sgd": {"momentum": 0.9, "nesterov": False, "weight_decay": 5e-4},
        "kfac": {"fisher": "monte_carlo", "ema_decay": None, "damping": damping, "damping_form": "pi_split", "curvature_interval": interval,
                 "inverse_interval": interval, "kl_clip": None, "unpreconditioned": "sgd", "factor_examples": None, "conv_positions": None,
                 "layers": {"exclude_types": None, "exclude_names": None}},
        "fop": {"projection": True, "beta": "adaptive", "fixed_beta": 0.0, "layer_scale": True, "eta_reference": "average",
                "damped_projection": True, "eps": 1e-12, "eta_min": None, "eta_max": None},
    }


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def input_shape(a):
    """CIFAR's images for ResNet-18, Fashion-MNIST's for the small models (fop bench's), --image pixels wide when given."""
    channels, side = (3, 32) if a.model == "resnet18" else (1, 28)
    return channels, a.image or side, a.image or side


def measure(name, batch, device, a):
    torch.manual_seed(0)
    shape = input_shape(a)
    model = reference_models.build(a.model, shape, 10).to(device).train()
    opt = fop_reference.create(name, model, bench_config(a.interval, a.damping))
    x = torch.randn(batch, *shape, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    cuda = device.type == "cuda"

    for _ in range(a.warmup):
        opt.step(x, y, a.lr)
    synchronize(device)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    per_round = []
    for _ in range(a.rounds):
        synchronize(device)
        t = time.perf_counter()
        for _ in range(a.steps):
            loss = opt.step(x, y, a.lr)
        synchronize(device)
        per_round.append((time.perf_counter() - t) * 1000 / a.steps)
    if not torch.isfinite(loss):
        raise RuntimeError(f"{name} batch {batch}: the loss became {float(loss)}; lower --lr or raise --damping")
    result = {"optimizer": name, "batch": batch, "ms_per_step": {"median": statistics.median(per_round), "min": min(per_round), "max": max(per_round)},
              "rounds": per_round,
              "peak_allocated_gb": torch.cuda.max_memory_allocated(device) / 1e9 if cuda else None,
              "peak_reserved_gb": torch.cuda.max_memory_reserved(device) / 1e9 if cuda else None}
    del model, opt, x, y
    if cuda:
        torch.cuda.empty_cache()
    return result


def time_steps(a):
    device = torch.device(a.device)
    if device.type == "cuda":
        # The toolkit's default (tf32 false): full float32 on both sides.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = False
    names = [o.strip() for o in a.optimizers.split(",") if o.strip()]
    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
           "model": a.model, "input_shape": list(input_shape(a)), "warmup": a.warmup, "rounds": a.rounds, "steps": a.steps, "interval": a.interval, "lr": a.lr, "damping": a.damping, "rows": []}
    for b in a.batches:
        for name in names:
            r = measure(name, b, device, a)
            out["rows"].append(r)
            memory = f", peak allocated {r['peak_allocated_gb']:.2f} GB, reserved {r['peak_reserved_gb']:.2f} GB" if r["peak_allocated_gb"] is not None else ""
            print(f"pytorch {name} batch {b}: {r['ms_per_step']['median']:.1f} ms/step ({r['ms_per_step']['min']:.1f}-{r['ms_per_step']['max']:.1f}){memory}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


def compare(a):
    report = step_case.compare(a.compare, a.device, a.tolerance)
    print(f"{report['model']} {'x'.join(map(str, report['input_shape']))} batch {report['batch']}, {report['dtype']}, case written on "
          f"{report['written_on']}, replayed on {report['compared_on']} (torch {report['torch']}); errors relative to each step's change "
          f"(tensors) or to the value (scalars):")
    for name, o in report["optimizers"].items():
        for row in o["steps"]:
            worst = max(row["tensors"].items(), key=lambda kv: kv[1])
            extra = "".join(f", {k} {row[k + '_error']:.1e}" for k in ("kl_clip_factor",) if k + "_error" in row)
            extra += "".join(f", {q} {e:.1e}" for q, e in row.get("fop", {}).items())
            print(f"  {name} step {row['step']}: max {row['max_error']:.2e} (worst tensor {worst[0]} {worst[1]:.1e}; loss {row['loss_error']:.1e}{extra})")
        noise = f"; the reference's own float32 error {o['float32_error_of_reference']:.1e}" if "float32_error_of_reference" in o else ""
        print(f"  {name}: {'agrees' if o['passed'] else 'DISAGREES'}, largest {o['max_error']:.2e}, tolerance {o['tolerance']:.1e}{noise}")
    print(f"{'agree' if report['passed'] else 'DISAGREE'}: largest relative error {report['max_error']:.2e}")
    path = a.json or os.path.join(a.compare, "comparison.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    return 0 if report["passed"] else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, nargs="+", default=[512, 2048, 8192])
    p.add_argument("--model", default="resnet18", choices=reference_models.NAMES, help="model to time (default resnet18)")
    p.add_argument("--image", type=int, help="image side in pixels (default 32 for resnet18, 28 for the others)")
    p.add_argument("--optimizers", default="sgd,kfac,fop", help="comma-separated: sgd, kfac, fop")
    p.add_argument("--device", help="cuda or cpu (default: cuda for timing, the device the case was written on for --compare)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=10, help="steps per round")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--interval", type=int, default=10, help="KFAC/FOP curvature and inverse interval")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--damping", type=float, default=1e-2)
    p.add_argument("--compare", metavar="DIR", help="replay the step case in DIR instead of timing")
    p.add_argument("--tolerance", type=float, help="largest relative error --compare accepts (default: by the case's dtype)")
    p.add_argument("--json")
    a = p.parse_args()
    bad = [o for o in a.optimizers.split(",") if o.strip() and o.strip() not in ("sgd", "kfac", "fop")]
    if bad:
        p.error(f"--optimizers: '{bad[0]}' is not one of sgd, kfac, fop")
    if a.device is None:
        a.device = step_case.Case(a.compare).manifest["device"] if a.compare and os.path.exists(os.path.join(a.compare, "case.json")) else "cuda"
    if a.device not in ("cpu", "cuda") and not a.device.startswith("cuda:"):
        p.error(f"--device '{a.device}': expected cpu or cuda")
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        p.error("--device cuda but torch has no CUDA device here; use --device cpu")
    if a.image is not None and a.image < 8:
        p.error("--image must be at least 8 pixels")
    if min(a.rounds, a.steps, a.interval) < 1 or a.warmup < 0 or min(a.batches) < 2 or not (a.lr > 0 and a.damping > 0):
        p.error("--rounds, --steps, --interval must be >= 1, --warmup >= 0, batches >= 2, --lr and --damping > 0")
    if a.tolerance is not None and not a.tolerance > 0:
        p.error("--tolerance must be > 0")
    try:
        return compare(a) if a.compare else time_steps(a)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
