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
# condition numbers (damping 1e-2), BatchNorm by 1/std of its batch, and summation order differs (unfold chunks, conv
# algorithms): 1e-12 to 1e-11 measured, so 1e-8 leaves a wide margin, while a real difference in the method (pi left out,
# G not rescaled, the EMA started from zero, eta with g1 + g2, the halves' BatchNorm statistics not kept apart) shows as
# 0.6 or more (each measured by planting it in the reference).
FLOAT64_TOLERANCE = 1e-8
# float32 has no fixed bound: how far a float32 step lands from the exact one depends on the case (the same toolkit step
# in float32 and float64 differs by up to 1.1e-2 relative to the step on a small CNN with BatchNorm at batch 64, where
# the EMA step of a BatchNorm-ed conv is a small difference of large terms). So a float32 case is also replayed in
# float64, and the toolkit must be within FLOAT32_FACTOR times the reference's own float32 error, or FLOAT32_FLOOR.
FLOAT32_FACTOR, FLOAT32_FLOOR = 4.0, 1e-3
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


def build(case, device, dtype):
    """The case's model with its initial weights and buffers, in `dtype` on `device`, in training mode."""
    m = case.manifest
    model = reference_models.build(case.model, m["input_shape"], m["classes"], case.config.get("mlp_hidden", [512, 256]))
    model.to(dtype=dtype)
    initial = case.state(m["initial"], "cpu")
    mine = state(model)
    if set(initial) != set(mine):
        raise ValueError(f"the case's tensors and the mirror's differ: only in the case {sorted(set(initial) - set(mine))}, "
                         f"only here {sorted(set(mine) - set(initial))}")
    with torch.no_grad():
        for name, t in dict(model.named_parameters(), **dict(model.named_buffers())).items():
            if tuple(t.shape) != tuple(initial[name].shape):
                raise ValueError(f"{name}: shape {tuple(initial[name].shape)} in the case, {tuple(t.shape)} here")
            t.copy_(initial[name])
    return model.to(device).train()


def state(model):
    return {k: v.detach().clone() for k, v in dict(model.named_parameters(), **dict(model.named_buffers())).items()}


def replay(case, name, device, dtype):
    """The reference's trajectory for optimizer `name`: the initial state, then per step the state after it, the loss
    before it, the KL-clip factor and FOP's (s, beta, eta) per layer."""
    model = build(case, device, dtype)
    opt = fop_reference.create(name, model, case.config)
    if name != "sgd":
        mine = sorted(n for l in opt.curvature.layers for n, p in model.named_parameters() if p is l.weight or p is l.bias)
        theirs = sorted(case.manifest["optimizers"][name]["preconditioned"])
        if mine != theirs:
            raise ValueError(f"{name}: the toolkit preconditions {theirs}, the reference {mine}")
    lr = case.manifest["lr"]
    trajectory = [{"state": state(model)}]
    for b in case.manifest["batches"][:len(case.manifest["optimizers"][name]["steps"])]:
        x, y = case.tensor(b["x"], device).to(dtype), case.tensor(b["y"], device)
        loss = float(opt.step(x, y, lr))
        row = {"state": state(model), "loss": loss, "kl_clip_factor": None if opt.kl_clip_factor is None else float(opt.kl_clip_factor)}
        if name == "fop":
            row["fop"] = {layer: (float(s), float(b_), float(e)) for layer, s, b_, e in opt.last}
        trajectory.append(row)
    return trajectory


def recorded(case, name, device):
    """The toolkit's trajectory for optimizer `name`, as `replay` gives the reference's (the initial state first)."""
    rows = [{"state": case.state(case.manifest["initial"], device)}]
    for step in case.manifest["optimizers"][name]["steps"]:
        row = {"state": case.state(step["state"], device), "loss": step["loss"], "kl_clip_factor": step["kl_clip_factor"]}
        if "fop" in step:
            row["fop"] = {l["layer"]: (l["s"], l["beta"], l["eta"]) for l in step["fop"]}
        rows.append(row)
    return rows


def relative(a, b, floor=SCALAR_FLOOR):
    return abs(a - b) / max(abs(b), floor)


def step_errors(mine, ref, ref_before):
    """Errors of trajectory row `mine` against `ref`, tensors relative to the change `ref` made over the step."""
    tensors = {}
    for k, r in ref["state"].items():
        m = mine["state"][k].to(device=r.device)
        if not r.is_floating_point():
            tensors[k] = float((m != r).any())
            continue
        change = (r - ref_before["state"][k].to(r.dtype)).abs().max().item()
        tensors[k] = (m.to(r.dtype) - r).abs().max().item() / max(change, torch.finfo(r.dtype).tiny)
    row = {"tensors": tensors, "loss_error": relative(mine["loss"], ref["loss"])}
    if (mine["kl_clip_factor"] is None) != (ref["kl_clip_factor"] is None):
        raise ValueError("the KL clip is on in one implementation only")
    if ref["kl_clip_factor"] is not None:
        row["kl_clip_factor_error"] = relative(mine["kl_clip_factor"], ref["kl_clip_factor"])
    if "fop" in ref:
        if set(mine.get("fop", {})) != set(ref["fop"]):
            raise ValueError("FOP's s, beta and eta are not reported for the same layers")
        row["fop"] = {q: max(relative(mine["fop"][l][i], ref["fop"][l][i]) for l in ref["fop"]) for i, q in enumerate(("s", "beta", "eta"))}
    row["max_error"] = max(list(tensors.values()) + [row["loss_error"], row.get("kl_clip_factor_error", 0.0)] + list(row.get("fop", {}).values()))
    return row


def compare(folder, device="cpu", tolerance=None):
    """Replays every optimizer of the case on `device` and returns the report (a dict; `passed` says whether every error
    is within its tolerance)."""
    case = Case(folder)
    why = fop_reference.unsupported(case.config, compare=True)
    if why:
        raise ValueError(f"{folder}: the reference does not implement {why}")
    if device.startswith("cuda"):
        # The toolkit's default (tf32 false), which the case's writer set too.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    dtype = DTYPES[case.dtype][1]
    report = {"case": os.path.abspath(folder), "model": case.model, "input_shape": case.manifest["input_shape"], "batch": case.manifest["batch"],
              "dtype": case.dtype, "written_on": case.manifest["device"], "compared_on": device, "torch": torch.__version__,
              "settings": {k: case.config["kfac"][k] for k in ("fisher", "ema_decay", "damping", "damping_form", "curvature_interval",
                                                               "inverse_interval", "kl_clip", "factor_examples", "conv_positions")},
              "lr": case.manifest["lr"], "optimizers": {}}
    for name in case.manifest["optimizers"]:
        ref, mine = replay(case, name, device, dtype), recorded(case, name, device)
        steps = [dict(step=k, loss=ref[k + 1]["loss"], kl_clip_factor=ref[k + 1]["kl_clip_factor"], **step_errors(mine[k + 1], ref[k + 1], ref[k]))
                 for k in range(len(ref) - 1)]
        worst = max(steps, key=lambda r: r["max_error"])
        worst_tensor = max(worst["tensors"].items(), key=lambda kv: kv[1])
        o = {"max_error": worst["max_error"], "worst_tensor": f"step {worst['step']}: {worst_tensor[0]} {worst_tensor[1]:.2e}", "steps": steps}
        if tolerance is not None:
            o["tolerance"] = tolerance
        elif dtype == torch.float64:
            o["tolerance"] = FLOAT64_TOLERANCE
        else:
            exact = replay(case, name, device, torch.float64)
            o["float32_error_of_reference"] = max(step_errors(ref[k + 1], exact[k + 1], exact[k])["max_error"] for k in range(len(ref) - 1))
            o["tolerance"] = max(FLOAT32_FLOOR, FLOAT32_FACTOR * o["float32_error_of_reference"])
        o["passed"] = o["max_error"] <= o["tolerance"]
        report["optimizers"][name] = o
    report["max_error"] = max(o["max_error"] for o in report["optimizers"].values())
    report["passed"] = all(o["passed"] for o in report["optimizers"].values())
    return report
