"""Builds table.md from a run-check.sh results folder: the interleaved bench per batch (median and range over rounds,
ratios to SGD and KFAC), TorchSharp against the PyTorch reference per optimizer and batch (SGD, KFAC, FOP), the step
agreement of the toolkit's SGD/KFAC/FOP steps with the reference's, and peak GPU memory per optimizer at batch 2048."""
import json, os, sys

out = sys.argv[1]
gpu = open(os.path.join(out, "gpu.txt")).read().strip() if os.path.exists(os.path.join(out, "gpu.txt")) else "unknown GPU"
torch_ref = json.load(open(os.path.join(out, "pytorch.json"))) if os.path.exists(os.path.join(out, "pytorch.json")) else {"rows": []}
# Rows without an optimizer come from the reference's SGD-only version.
ref = {(r["batch"], r.get("optimizer", "sgd")): r for r in torch_ref["rows"]}
agreement = json.load(open(os.path.join(out, "reference-compare.json"))) if os.path.exists(os.path.join(out, "reference-compare.json")) else None
memory = {}
if os.path.exists(os.path.join(out, "memory-b2048.txt")):
    for line in open(os.path.join(out, "memory-b2048.txt")):
        parts = line.split()
        if len(parts) == 2:
            memory[parts[0]] = float(parts[1]) / 1024


def rng(s, fmt="{:.2f}"):
    return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}-{fmt.format(s['max'])})"


print(f"# GPU check: CIFAR ResNet-18, random batches ({gpu})\n")
def num(x, fmt="{:.1f}"):
    return "" if x is None or (isinstance(x, float) and x != x) or isinstance(x, str) else fmt.format(x)


# Whole-step benches (fop bench --whole-steps) time no phases; they count the host waits per step instead.
print("| batch | optimizer | ms/step | forward | backward | curvature | update | / SGD | / KFAC | waits/step | reads/step | refused |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for b in (512, 2048, 8192):
    path = os.path.join(out, f"bench-resnet18-b{b}.json")
    if not os.path.exists(path):
        print(f"| {b} | (bench missing) | | | | | | | | | | |")
        continue
    d = json.load(open(path))
    for r in d["summary"]:
        print(f"| {b} | {r['optimizer']} | {rng(r['ms_per_step'], '{:.1f}')} | {num(r['forward_ms'])} | {num(r['backward_ms'])} | {num(r['curvature_ms'])} | "
              f"{num(r['update_ms'])} | {rng(r['ratio_to_sgd'])} | {rng(r['ratio_to_kfac'])} | {num(r.get('waits_per_step'), '{:.2f}')} | "
              f"{num(r.get('reads_per_step'), '{:.2f}')} | {r['refused_steps']} |")
    for r in d["summary"]:
        if (b, r["optimizer"]) in ref:
            p = ref[(b, r["optimizer"])]["ms_per_step"]
            print(f"| {b} | PyTorch {torch_ref.get('torch', '')} {r['optimizer']} | {rng(p, '{:.1f}')} | | | | | "
                  f"TorchSharp/PyTorch {r['ms_per_step']['median'] / p['median']:.3f} | | | | |")
print()
ratios = []
for b in (512, 2048, 8192):
    path = os.path.join(out, f"bench-resnet18-b{b}.json")
    mine = {r["optimizer"]: r["ms_per_step"]["median"] for r in json.load(open(path))["summary"]} if os.path.exists(path) else {}
    cells = [f"{mine[o] / ref[(b, o)]['ms_per_step']['median']:.3f}" if o in mine and (b, o) in ref else "" for o in ("sgd", "kfac", "fop")]
    if any(cells):
        ratios.append(f"| {b} | " + " | ".join(cells) + " |")
if ratios:
    print("TorchSharp / PyTorch per step (medians; PyTorch whole steps with one synchronise per round of "
          f"{torch_ref.get('steps', 10)}, KFAC/FOP curvature every {torch_ref.get('interval', 10)} steps):\n")
    print("| batch | SGD | KFAC | FOP |\n|---|---|---|---|")
    print("\n".join(ratios) + "\n")
if agreement:
    cells = ", ".join(f"{name} {o['max_error']:.1e} (tolerance {o['tolerance']:.0e})" for name, o in agreement["optimizers"].items())
    print(f"Step agreement with the PyTorch reference ({agreement['model']} batch {agreement['batch']}, {agreement['dtype']}, written by fop on "
          f"{agreement['written_on']}, replayed by torch {agreement['torch']} on {agreement['compared_on']}; largest error relative to each step's change, "
          f"{len(next(iter(agreement['optimizers'].values()))['steps'])} steps): {cells}: **{'agree' if agreement['passed'] else 'DISAGREE'}**\n")
else:
    print("Step agreement with the PyTorch reference: not measured (reference-compare.json missing)\n")
if memory:
    print("Peak GPU memory at batch 2048 (nvidia-smi, whole device, CUDA context included), GB: " +
          ", ".join(f"{k} {v:.1f}" for k, v in memory.items()) +
          "".join(f"; PyTorch {o} reserved {ref[(2048, o)]['peak_reserved_gb']:.1f} (allocated {ref[(2048, o)]['peak_allocated_gb']:.1f}, no context)"
                  for o in ("sgd", "kfac", "fop") if (2048, o) in ref and ref[(2048, o)].get("peak_reserved_gb") is not None))
