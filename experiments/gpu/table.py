"""Builds table.md from a run-check.sh results folder: the interleaved bench per batch (median and range over rounds,
ratios to SGD and KFAC), TorchSharp SGD against PyTorch SGD, and peak GPU memory per optimizer at batch 2048."""
import json, os, sys

out = sys.argv[1]
gpu = open(os.path.join(out, "gpu.txt")).read().strip() if os.path.exists(os.path.join(out, "gpu.txt")) else "unknown GPU"
torch_ref = json.load(open(os.path.join(out, "pytorch.json"))) if os.path.exists(os.path.join(out, "pytorch.json")) else {"rows": []}
ref = {r["batch"]: r for r in torch_ref["rows"]}
memory = {}
if os.path.exists(os.path.join(out, "memory-b2048.txt")):
    for line in open(os.path.join(out, "memory-b2048.txt")):
        parts = line.split()
        if len(parts) == 2:
            memory[parts[0]] = float(parts[1]) / 1024


def rng(s, fmt="{:.2f}"):
    return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}-{fmt.format(s['max'])})"


print(f"# GPU check: CIFAR ResNet-18, random batches ({gpu})\n")
print("| batch | optimizer | ms/step | forward | backward | curvature | update | / SGD | / KFAC | refused |")
print("|---|---|---|---|---|---|---|---|---|---|")
for b in (512, 2048, 8192):
    path = os.path.join(out, f"bench-resnet18-b{b}.json")
    if not os.path.exists(path):
        print(f"| {b} | (bench missing) | | | | | | | | |")
        continue
    d = json.load(open(path))
    for r in d["summary"]:
        print(f"| {b} | {r['optimizer']} | {rng(r['ms_per_step'], '{:.1f}')} | {r['forward_ms']:.1f} | {r['backward_ms']:.1f} | {r['curvature_ms']:.1f} | "
              f"{r['update_ms']:.1f} | {rng(r['ratio_to_sgd'])} | {rng(r['ratio_to_kfac'])} | {r['refused_steps']} |")
    if b in ref:
        sgd = next(r for r in d["summary"] if r["optimizer"] == "sgd")["ms_per_step"]["median"]
        p = ref[b]["ms_per_step"]
        print(f"| {b} | PyTorch {torch_ref.get('torch', '')} SGD | {rng(p, '{:.1f}')} | | | | | TorchSharp/PyTorch {sgd / p['median']:.3f} | | |")
print()
if memory:
    print("Peak GPU memory at batch 2048 (nvidia-smi, whole device, CUDA context included), GB: " +
          ", ".join(f"{k} {v:.1f}" for k, v in memory.items()) +
          (f"; PyTorch SGD reserved {ref[2048]['peak_reserved_gb']:.1f} (allocated {ref[2048]['peak_allocated_gb']:.1f}, no context)" if 2048 in ref else ""))
