"""KFAC and FOP in plain PyTorch, written from the method (shared/docs/fop-method.md, docs/method.md) as an independent
reference for the toolkit's C# (src/Fop.Research/Optim/Kfac.cs, Fop.cs and their curvature); it shares no code with it.
Options come as the toolkit's config JSON does (sections `kfac`, `fop`, `sgd`, snake_case), so a step case's config is
read as it is written. Runs on torch 1.13 and 2.x, CPU or CUDA.

The conventions, each the toolkit's:
- A Linear or Conv2d (groups 1) layer is one matrix (out, in [+1]): a conv weight flattened in unfold's (c, kh, kw)
  order, a bias as the last column whose input is the constant 1. Every such layer is preconditioned (in name order)
  unless kfac.layers excludes it by type or by a name pattern (searched, as .NET's Regex.IsMatch does); everything else
  (BatchNorm, excluded layers) takes its plain gradient through the same SGD.
- A = mean over examples and conv output positions of a a^T (a: unfolded patch, zero padding); G = mean over examples of
  the sum over positions of g g^T, g = the gradient of the example's own loss with respect to the layer's output.
- Fisher `empirical`: g from the main backward (true labels), scaled back by the loss normaliser; `monte_carlo`: labels
  drawn from softmax(outputs), one extra backward to the layer outputs (used for timing; its draws are not the toolkit's).
- Factors and inverses at steps 0, T, 2T, ...; EMA F = rho F + (1 - rho) F_new from the first fresh estimate (rho null:
  fresh factors). Damping `pi_split`: (A + pi sqrt(l) I) (x) (G + sqrt(l) / pi I), pi = sqrt((tr A / dim A) / (tr G / dim G)),
  Cholesky inverses; or `eigen`: Q_G [(Q_G^T V Q_A) / (d_G d_A^T + l)] Q_A^T.
- KFAC: V = F^-1 grad. FOP: halves (first floor(n/2) examples, then the rest), one backward each; g_avg weighted by size;
  s, g_perp, beta = D / E, g_comb, eta as in fop-method.md §2; V = eta F^-1 g_comb. Each half's forward normalises with its
  own BatchNorm statistics; the running statistics move once per step, by the size-weighted mean of the halves'.
- KL clip nu = min(1, sqrt(kappa / |lr^2 sum_l <V_l, g_l>|)) over the preconditioned layers (g: grad, or FOP's g_avg);
  then torch.optim.SGD (momentum, coupled L2 weight decay, optional Nesterov) on every parameter.

Nothing in a step reads to the host: the scalars stay tensors (torch.where), as the toolkit's do.
"""
import math
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

# Unfolded patches are turned into A's statistics this many elements at a time, so batch 8192 fits in memory.
CHUNK_ELEMENTS = 1 << 27


def unsupported(config, compare):
    """What in `config` this reference does not implement (None when all is there). `compare`: the options must also make
    a step independent of random draws, as a comparison with the toolkit needs."""
    k, f = config["kfac"], config["fop"]
    checks = [
        (k["fisher"] in ("empirical", "monte_carlo"), f"kfac.fisher={k['fisher']}"),
        (not (compare and k["fisher"] != "empirical"), "kfac.fisher=monte_carlo (its labels are random draws: compare with empirical)"),
        (k.get("factor_examples") is None, "kfac.factor_examples (a random subset)"),
        (k.get("conv_positions") is None, "kfac.conv_positions (random positions)"),
        (isinstance(k["damping"], (int, float)), "a damping schedule"),
        (k["damping_form"] in ("pi_split", "eigen"), f"kfac.damping_form={k['damping_form']}"),
        (k["unpreconditioned"] == "sgd", "kfac.unpreconditioned=adamw"),
        (config.get("grad_clip") is None, "grad_clip"),
        (config.get("micro_batch_size", 0) == 0, "micro-batches"),
        (config.get("batch_norm_running_stats", "per_step") == "per_step", "batch_norm_running_stats=per_chunk"),
        (f["beta"] in ("adaptive", "fixed") and f["eta_reference"] in ("average", "sum"), "an unknown fop.beta or fop.eta_reference"),
    ]
    missing = [what for ok, what in checks if not ok]
    return ", ".join(missing) if missing else None


def dot(u, v):
    """<u, v> in float64, as a 0-dimensional tensor on the device."""
    return (u * v).sum().to(torch.float64)


class Layer:
    """A Linear or Conv2d as one matrix (out, in [+1])."""

    def __init__(self, name, module):
        self.name, self.module = name, module
        self.conv = isinstance(module, nn.Conv2d)
        self.weight, self.bias = module.weight, module.bias

    def input_rows(self, x):
        """Rows a of A: one per example (Linear) or per example and output position (Conv2d), with the bias's 1."""
        if self.conv:
            m = self.module
            patches = F.unfold(x, m.kernel_size, dilation=m.dilation, padding=m.padding, stride=m.stride)
            rows = patches.transpose(1, 2).reshape(-1, patches.shape[1])
        else:
            rows = x.reshape(-1, x.shape[-1])
        if self.bias is not None:
            rows = torch.cat([rows, rows.new_ones(rows.shape[0], 1)], 1)
        return rows

    def output_rows(self, g):
        """Rows g of G: one per example (Linear) or per example and output position (Conv2d)."""
        return g.flatten(2).transpose(1, 2).reshape(-1, g.shape[1]) if self.conv else g.reshape(-1, g.shape[-1])

    def matrix(self, w, b):
        """The layer matrix from weight- and bias-shaped tensors."""
        m = w.reshape(w.shape[0], -1)
        return m if b is None else torch.cat([m, b.reshape(-1, 1)], 1)

    def split(self, m):
        """Weight- and bias-shaped tensors (bias None) from a layer matrix."""
        n = self.weight[0].numel()
        return m[:, :n].reshape(self.weight.shape), (None if self.bias is None else m[:, n].reshape(self.bias.shape))


def decompose(f, *matrices):
    """f(*matrices), retried in float64 (results cast back) when it fails, as the toolkit retries a failed decomposition.
    Debian's torch 1.13 with the reference LAPACK also needs it: its float32 eigh of a large matrix rejects its own workspace size."""
    try:
        return f(*matrices)
    except RuntimeError:
        if matrices[0].dtype == torch.float64:
            raise
        return tuple(t.to(matrices[0].dtype) for t in f(*(m.double() for m in matrices)))


class PiSplit:
    """(A + pi sqrt(l) I) (x) (G + sqrt(l) / pi I), inverted by Cholesky."""

    def __init__(self, a, g, damping):
        tr_a, tr_g = a.diagonal().sum() / a.shape[0], g.diagonal().sum() / g.shape[0]
        pi = torch.where((tr_a > 0) & (tr_g > 0), (tr_a / tr_g).sqrt(), torch.ones_like(tr_a))
        root = math.sqrt(damping)
        self.a, self.g = a, g
        self.a_damped = a + torch.eye(a.shape[0], dtype=a.dtype, device=a.device) * (pi * root)
        self.g_damped = g + torch.eye(g.shape[0], dtype=g.dtype, device=g.device) * (root / pi)
        self.a_inv, = decompose(lambda m: (torch.cholesky_inverse(torch.linalg.cholesky(m)),), self.a_damped)
        self.g_inv, = decompose(lambda m: (torch.cholesky_inverse(torch.linalg.cholesky(m)),), self.g_damped)

    def inverse(self, v):
        return self.g_inv @ v @ self.a_inv

    def multiply(self, v):
        return self.g_damped @ v @ self.a_damped

    def multiply_raw(self, v):
        return self.g @ v @ self.a


class Eigen:
    """A (x) G + l I in the Kronecker eigenbasis (eigenvalues below 0 from round-off taken as 0)."""

    def __init__(self, a, g, damping):
        d_a, self.q_a = decompose(torch.linalg.eigh, a)
        d_g, self.q_g = decompose(torch.linalg.eigh, g)
        self.raw = d_g.clamp_min(0)[:, None] * d_a.clamp_min(0)[None, :]
        self.scale = self.raw + damping

    def _in_basis(self, v, f):
        return self.q_g @ f(self.q_g.T @ v @ self.q_a) @ self.q_a.T

    def inverse(self, v):
        return self._in_basis(v, lambda x: x / self.scale)

    def multiply(self, v):
        return self._in_basis(v, lambda x: x * self.scale)

    def multiply_raw(self, v):
        return self._in_basis(v, lambda x: x * self.raw)


class Curvature:
    """Kronecker factors of every Linear and Conv2d of a model, gathered through hooks while `recording`."""

    def __init__(self, model, kfac):
        self.fisher, self.rho = kfac["fisher"], kfac["ema_decay"]
        self.damping, self.form = float(kfac["damping"]), kfac["damping_form"]
        kinds = {"linear": nn.Linear, "conv2d": nn.Conv2d}
        excluded = tuple(kinds[t] for t in kfac["layers"].get("exclude_types") or [])
        patterns = [re.compile(p) for p in kfac["layers"].get("exclude_names") or []]
        self.layers = sorted((Layer(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))
                              and not isinstance(m, excluded) and not any(p.search(n) for p in patterns)), key=lambda l: l.name)
        if any(l.conv and (l.module.groups != 1 or l.module.padding_mode != "zeros") for l in self.layers):
            raise ValueError("only Conv2d with groups=1 and zero padding is preconditioned (as in the toolkit)")
        self.recording, self.normaliser = False, 1
        self.A, self.G, self.preconditioners = {}, {}, {}
        self.outputs = []
        self._clear()
        for layer in self.layers:
            layer.module.register_forward_hook(self._hook(layer))

    def _clear(self):
        self.a_sum, self.g_sum, self.a_rows, self.examples = {}, {}, {}, 0

    def _add(self, sums, layer, rows, scale=1.0):
        gram = rows.T @ rows
        if scale != 1.0:
            gram = gram * scale
        sums[layer.name] = gram if layer.name not in sums else sums[layer.name] + gram

    def _hook(self, layer):
        def hook(module, inputs, output):
            if not self.recording:
                return
            with torch.no_grad():
                x = inputs[0].detach()
                # Rows per example (output positions) times the row's length.
                per_example = output[0].numel() // output.shape[1] * (layer.weight[0].numel() + (layer.bias is not None))
                step = max(1, min(x.shape[0], CHUNK_ELEMENTS // max(1, per_example)))
                for i in range(0, x.shape[0], step):
                    rows = layer.input_rows(x[i:i + step])
                    self.a_rows[layer.name] = self.a_rows.get(layer.name, 0) + rows.shape[0]
                    self._add(self.a_sum, layer, rows)
            if self.fisher == "empirical":
                # The hook sees d(loss sum / normaliser)/d(output): times the normaliser, each example's own gradient.
                output.register_hook(lambda g: self._add_output_gradient(layer, g, self.normaliser))
            else:
                self.outputs.append((layer, output))
        return hook

    def _add_output_gradient(self, layer, g, multiplier):
        with torch.no_grad():
            self._add(self.g_sum, layer, layer.output_rows(g), multiplier * multiplier)

    def before_backward(self, outputs, normaliser):
        """Called with a recorded chunk's outputs before its backward of (loss sum / normaliser)."""
        self.normaliser = normaliser
        if self.fisher == "monte_carlo" and self.outputs:
            with torch.no_grad():
                sampled = torch.multinomial(F.softmax(outputs.detach(), 1), 1).squeeze(1)
            layers, kept = zip(*self.outputs)
            grads = torch.autograd.grad(F.cross_entropy(outputs, sampled, reduction="sum"), kept, retain_graph=True)
            for layer, g in zip(layers, grads):
                self._add_output_gradient(layer, g, 1.0)
            self.outputs = []

    def after_backward(self, examples):
        self.examples += examples

    def commit(self):
        """This step's statistics become the factors (EMA after the first)."""
        for layer in self.layers:
            a, g = self.a_sum[layer.name] / self.a_rows[layer.name], self.g_sum[layer.name] / self.examples
            if self.rho is not None and layer.name in self.A:
                a, g = self.rho * self.A[layer.name] + (1 - self.rho) * a, self.rho * self.G[layer.name] + (1 - self.rho) * g
            self.A[layer.name], self.G[layer.name] = a, g
        self._clear()

    def invert(self):
        kind = PiSplit if self.form == "pi_split" else Eigen
        self.preconditioners = {l.name: kind(self.A[l.name], self.G[l.name], self.damping) for l in self.layers}


class BatchNormPerStep:
    """BatchNorm running statistics moved once per step: each chunk's forward starts from the step's saved statistics, and
    the step keeps the size-weighted mean of the chunks' results (one momentum update with the mean of their statistics)."""

    def __init__(self, model):
        self.bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        self.saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in self.bns]
        self.sums = [(torch.zeros_like(mean), torch.zeros_like(var)) for mean, var, _ in self.saved]

    def before_chunk(self):
        with torch.no_grad():
            for m, (mean, var, count) in zip(self.bns, self.saved):
                m.running_mean.copy_(mean), m.running_var.copy_(var), m.num_batches_tracked.copy_(count)

    def after_chunk(self, weight):
        with torch.no_grad():
            for m, (mean, var) in zip(self.bns, self.sums):
                mean.add_(m.running_mean, alpha=weight), var.add_(m.running_var, alpha=weight)

    def commit(self):
        with torch.no_grad():
            for m, (mean, var), (_, _, count) in zip(self.bns, self.sums, self.saved):
                m.running_mean.copy_(mean), m.running_var.copy_(var), m.num_batches_tracked.copy_(count + 1)


class NaturalGradient:
    """What KFAC and FOP share: the model, its curvature, the KL clip and the SGD tail."""

    def __init__(self, model, config):
        self.model, self.config = model, config
        self.kfac = config["kfac"]
        self.curvature = Curvature(model, self.kfac)
        sgd = config["sgd"]
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.sgd = torch.optim.SGD(self.params, lr=1.0, momentum=sgd["momentum"], weight_decay=sgd["weight_decay"], nesterov=sgd["nesterov"])
        self.step_count = 0
        self.kl_clip_factor = None

    def pass_(self, x, y, normaliser, record):
        """Forward and backward of (loss sum / normaliser) on (x, y); the loss sum (a tensor)."""
        self.curvature.recording = record
        try:
            outputs = self.model(x)
            loss = F.cross_entropy(outputs, y, reduction="sum")
            if record:
                self.curvature.before_backward(outputs, normaliser)
            (loss / normaliser).backward()
        finally:
            self.curvature.recording = False
        if record:
            self.curvature.after_backward(x.shape[0])
        return loss.detach()

    def grads(self):
        g = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in self.params]
        for p in self.params:
            p.grad = None
        return g

    def curvature_stage(self, recorded):
        if recorded:
            self.curvature.commit()
        if self.step_count % self.kfac["inverse_interval"] == 0:
            self.curvature.invert()

    def tail(self, directions, gradients, plain, lr):
        """KL clip over the layer matrices `directions` (against `gradients`), then SGD on every parameter: layer directions
        for the preconditioned ones, `plain` (one per parameter, by position) for the rest."""
        kappa = self.kfac.get("kl_clip")
        self.kl_clip_factor = None
        if kappa is not None:
            vg = torch.stack([dot(d, g) for d, g in zip(directions, gradients)]).sum() * (lr * lr)
            nu = (kappa / vg.abs()).sqrt().clamp_max(1.0)
            self.kl_clip_factor = nu
            directions = [d * nu.to(d.dtype) for d in directions]
        owned = {}
        for layer, d in zip(self.curvature.layers, directions):
            w, b = layer.split(d)
            owned[id(layer.weight)] = w
            if b is not None:
                owned[id(layer.bias)] = b
        for p, g in zip(self.params, plain):
            p.grad = owned.get(id(p), g)
        for group in self.sgd.param_groups:
            group["lr"] = lr
        self.sgd.step()
        for p in self.params:
            p.grad = None
        self.step_count += 1

    def layer_matrices(self, per_parameter):
        index = {id(p): i for i, p in enumerate(self.params)}
        return [l.matrix(per_parameter[index[id(l.weight)]], None if l.bias is None else per_parameter[index[id(l.bias)]]) for l in self.curvature.layers]


class Kfac(NaturalGradient):
    """KFAC: one forward/backward of the whole batch (curvature recorded on curvature steps), V = F^-1 grad per layer."""

    def step(self, x, y, lr):
        record = self.step_count % self.kfac["curvature_interval"] == 0
        for p in self.params:
            p.grad = None
        loss = self.pass_(x, y, x.shape[0], record)
        grads = self.grads()
        self.curvature_stage(record)
        matrices = self.layer_matrices(grads)
        directions = [self.curvature.preconditioners[l.name].inverse(g) for l, g in zip(self.curvature.layers, matrices)]
        self.tail(directions, matrices, grads, lr)
        return loss / x.shape[0]


def fisher_orthogonal_projection(g1, g2, w, f, fop):
    """FOP for one layer (fop-method.md §2) from its half-batch gradients g1, g2 (layer matrices), the first half's share w
    of the batch and its preconditioner f: the direction eta F^-1 g_comb and s, beta, eta (float64 tensors)."""
    zero, one = g1.new_zeros((), dtype=torch.float64), g1.new_ones((), dtype=torch.float64)
    g_avg = w * g1 + (1 - w) * g2
    g_comb, s, beta = g_avg, zero, zero
    if fop["projection"]:
        g_diff = g1 - g2
        f_avg = f.multiply(g_avg) if fop["damped_projection"] else f.multiply_raw(g_avg)
        q = dot(g_avg, f_avg)
        s = torch.where(q > 0, dot(g_diff, f_avg) / (q * (1 + fop["eps"])), zero)
        g_perp = g_diff - s.to(g_avg.dtype) * g_avg
        p_perp = f.inverse(g_perp)
        d, e = dot(g_avg, p_perp), dot(g_perp, p_perp)
        if fop["beta"] == "fixed":
            beta = zero + fop["fixed_beta"]
        else:
            # E ~ 0 means g1 == g2: nothing orthogonal to add (the threshold is relative to the KFAC direction's energy).
            beta = torch.where(e > dot(g_avg, f.inverse(g_avg)).abs() * 1e-12, d / e, zero)
        g_comb = g_avg + beta.to(g_avg.dtype) * g_perp
    p_comb = f.inverse(g_comb)
    eta = one
    if fop["layer_scale"]:
        g_t = g_avg if fop["eta_reference"] == "average" else 2 * g_avg
        den = dot(g_comb, p_comb)
        eta = torch.where(den > 0, dot(g_t, p_comb) / den, one)
        if fop["eta_min"] is not None or fop["eta_max"] is not None:
            eta = eta.clamp(fop["eta_min"], fop["eta_max"])
    return eta.to(p_comb.dtype) * p_comb, s, beta, eta


class Fop(NaturalGradient):
    """FOP: g1 and g2 from the batch's halves (one backward each), curvature from both, the projection per layer."""

    def __init__(self, model, config):
        super().__init__(model, config)
        self.fop = config["fop"]
        self.last = None

    def step(self, x, y, lr):
        n = x.shape[0]
        half = n // 2
        w = half / n
        record = self.step_count % self.kfac["curvature_interval"] == 0
        for p in self.params:
            p.grad = None
        batch_norm = BatchNormPerStep(self.model)
        halves = []
        for part, (lo, hi) in enumerate([(0, half), (half, n)]):
            batch_norm.before_chunk()
            loss = self.pass_(x[lo:hi], y[lo:hi], hi - lo, record)
            batch_norm.after_chunk((hi - lo) / n)
            halves.append((loss, self.grads()))
        batch_norm.commit()
        (loss1, g1), (loss2, g2) = halves
        self.curvature_stage(record)
        m1, m2 = self.layer_matrices(g1), self.layer_matrices(g2)
        directions, averages, self.last = [], [], []
        for layer, a, b in zip(self.curvature.layers, m1, m2):
            update, s, beta, eta = fisher_orthogonal_projection(a, b, w, self.curvature.preconditioners[layer.name], self.fop)
            directions.append(update)
            averages.append(w * a + (1 - w) * b)
            self.last.append((layer.name, s, beta, eta))
        self.tail(directions, averages, [w * a + (1 - w) * b for a, b in zip(g1, g2)], lr)
        return (loss1 + loss2) / n


class Sgd:
    """torch.optim.SGD on the mean cross-entropy: the toolkit's SGD (momentum, coupled L2 weight decay)."""

    def __init__(self, model, config):
        sgd = config["sgd"]
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=1.0, momentum=sgd["momentum"], weight_decay=sgd["weight_decay"], nesterov=sgd["nesterov"])
        self.kl_clip_factor = None

    def step(self, x, y, lr):
        self.opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(self.model(x), y)
        loss.backward()
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        return loss.detach()


def create(name, model, config):
    """sgd, kfac or fop on `model` with the toolkit-shaped `config` (sections sgd, kfac, fop)."""
    kinds = {"sgd": Sgd, "kfac": Kfac, "fop": Fop}
    if name not in kinds:
        raise ValueError(f"optimizer '{name}' is not one of {', '.join(kinds)}")
    return kinds[name](model, config)
