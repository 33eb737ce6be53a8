"""A step case written by `fop reference-step` (case.json and raw little-endian tensors, read with numpy alone), replayed
with this folder's PyTorch models and optimizers, and the agreement measured.

Errors, each a relative one:
- a parameter or floating buffer after step k: max |toolkit - reference| / max |reference change over step k|, so the
  error is measured against what the step did, not against the weights (which would hide a wrong update);
- num_batches_tracked: exact (error 0 or 1);
- the loss before step k, the KL-clip factor, and FOP's s, beta and eta per layer: |toolkit - reference| / max(|reference|, 1e-6)
  (the floor keeps a beta that is ~0 in both from reading as a large relative error).
"""
import json
import os

import numpy as np
import torch

import fop_reference
import reference_models

DTYPES = {"float64": ("<f8", torch.float64), "float32": ("<f4", torch.float32), "int64": ("<i8", torch.int64)}

# float64: every operation rounds at ~1e-16; the Cholesky solves and the FOP ratios amplify that by the damped factors'
# condition numbers (damping 1e-2: up to ~1e4 here), and summation order differs (unfold chunks, conv algorithms), so
# 1e-8 leaves a wide margin over the ~1e-12 measured while any real difference in the method (a missing bias column, a
# factor scaled by n, the wrong half weight) shows as 1e-3 or more.
# float32: ~6e-8 rounding through the same amplification (1e-4 to 1e-3 measured on the CPU, BatchNorm statistics of a
# half-batch included), and on a GPU cuDNN's own algorithms for the convolutions (TF32 off on both sides).
TOLERANCE = {"float64": 1e-8, "float32": 2e-2}
SCALAR_FLOOR = 1e-6


class Case:
    """A case folder: the manifest and its tensors."""

    def __init__(self, folder):
        self.folder = folder
        path = os.path.join(folder, "case.json")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no case here (write one with `fop reference-step --out {folder}`)")
        with open(path) as f:
            self.manifest = json.load(f)
        if self.manifest.get("format") != "fop-reference-step 1":
            raise ValueError(f"{path}: format {self.manifest.get('format')!r} is not 'fop-reference-step 1'")
        self.model, self.dtype, self.config = self.manifest["model"], self.manifest["dtype"], self.manifest["config"]

    def tensor(self, entry, device):
        np_type, torch_type = DTYPES[entry["dtype"]]
        data = np.fromfile(os.path.join(self.folder, entry["file"]), dtype=np_type)
        if data.size != int(np.prod(entry["shape"])):
            raise ValueError(f"{entry['file']}: {data.size} values for shape {entry['shape']}")
        return torch.from_numpy(data.astype(data.dtype.newbyteorder("="), copy=False).reshape(entry["shape"])).to(device=device, dtype=torch_type)

    def state(self, entries, device):
        return {e["name"]: self.tensor(e, device) for e in entries}


def build(case, device):
    """The case's model with its initial weights and buffers, in its dtype on `device`, in training mode."""
    m = case.manifest
    model = reference_models.build(case.model, m["input_shape"], m["classes"], case.config.get("mlp_hidden", [512, 256]))
    model.to(dtype=DTYPES[case.dtype][1])
    initial = case.state(m["initial"], "cpu")
    mine = dict(model.named_parameters(), **dict(model.named_buffers()))
    if set(initial) != set(mine):
        raise ValueError(f"the case's tensors and the mirror's differ: only in the case {sorted(set(initial) - set(mine))}, "
                         f"only here {sorted(set(mine) - set(initial))}")
    with torch.no_grad():
        for name, t in mine.items():
            if tuple(t.shape) != tuple(initial[name].shape):
                raise ValueError(f"{name}: shape {tuple(initial[name].shape)} in the case, {tuple(t.shape)} here")
            t.copy_(initial[name])
    return model.to(device).train()


def relative(a, b, floor=SCALAR_FLOOR):
    return abs(a - b) / max(abs(b), floor)


def compare(folder, device="cpu", tolerance=None):
    """Replays every optimizer of the case on `device` and returns the report (a dict; `passed` says whether every error
    is within the tolerance)."""
    case = Case(folder)
    why = fop_reference.unsupported(case.config, compare=True)
    if why:
        raise ValueError(f"{folder}: the reference does not implement {why}")
    tolerance = TOLERANCE[case.dtype] if tolerance is None else tolerance
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    batches = [(case.tensor(b["x"], device), case.tensor(b["y"], device)) for b in case.manifest["batches"]]
    lr = case.manifest["lr"]
    report = {"case": os.path.abspath(folder), "model": case.model, "batch": case.manifest["batch"], "dtype": case.dtype,
              "written_on": case.manifest["device"], "compared_on": device, "torch": torch.__version__, "tolerance": tolerance,
              "settings": {k: case.config["kfac"][k] for k in ("fisher", "ema_decay", "damping", "damping_form", "curvature_interval",
                                                               "inverse_interval", "kl_clip", "factor_examples", "conv_positions")},
              "lr": lr, "optimizers": {}}
    for name, result in case.manifest["optimizers"].items():
        model = build(case, device)
        opt = fop_reference.create(name, model, case.config)
        if name != "sgd":
            mine = sorted(n for l in opt.curvature.layers for n, p in model.named_parameters() if p is l.weight or p is l.bias)
            if mine != sorted(result["preconditioned"]):
                raise ValueError(f"{name}: the toolkit preconditions {sorted(result['preconditioned'])}, the reference {mine}")
        before = {k: v.detach().clone() for k, v in dict(model.named_parameters(), **dict(model.named_buffers())).items()}
        steps = []
        for step, (x, y) in zip(result["steps"], batches):
            loss = float(opt.step(x, y, lr))
            after = {k: v.detach().clone() for k, v in dict(model.named_parameters(), **dict(model.named_buffers())).items()}
            theirs = case.state(step["state"], device)
            tensors = {}
            for k, ref in after.items():
                if not ref.is_floating_point():
                    tensors[k] = float((theirs[k] != ref).any())
                    continue
                change = (ref - before[k]).abs().max().item()
                tensors[k] = (theirs[k] - ref).abs().max().item() / max(change, torch.finfo(ref.dtype).tiny)
            row = {"step": step["step"], "loss": loss, "loss_error": relative(step["loss"], loss), "tensors": tensors}
            nu = None if opt.kl_clip_factor is None else float(opt.kl_clip_factor)
            if (nu is None) != (step["kl_clip_factor"] is None):
                raise ValueError(f"{name} step {step['step']}: KL clip on in one implementation only")
            if nu is not None:
                row["kl_clip_factor"] = nu
                row["kl_clip_factor_error"] = relative(step["kl_clip_factor"], nu)
            if "fop" in step:
                ref_fop = {layer: (float(s), float(b), float(e)) for layer, s, b, e in opt.last}
                row["fop"] = {q: max(relative(l[q], ref_fop[l["layer"]][i]) for l in step["fop"]) for i, q in enumerate(("s", "beta", "eta"))}
            errors = list(tensors.values()) + [row["loss_error"], row.get("kl_clip_factor_error", 0.0)] + list(row.get("fop", {}).values())
            row["max_error"] = max(errors)
            steps.append(row)
            before = after
        worst = max(steps, key=lambda r: r["max_error"])
        worst_tensor = max(worst["tensors"].items(), key=lambda kv: kv[1])
        report["optimizers"][name] = {"max_error": worst["max_error"], "worst_tensor": f"step {worst['step']}: {worst_tensor[0]} {worst_tensor[1]:.2e}",
                                      "steps": steps}
    report["max_error"] = max(o["max_error"] for o in report["optimizers"].values())
    report["passed"] = report["max_error"] <= tolerance
    return report
