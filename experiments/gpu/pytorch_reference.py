"""PyTorch reference for the GPU check: the same CIFAR ResNet-18 (3x3 stem, no max-pool, BasicBlocks [2, 2, 2, 2]) and
the same SGD step as `fop bench` (momentum 0.9, coupled weight decay 5e-4, lr 1e-3, mean cross-entropy, random batches),
timed the same way: 3 rounds of 10 steps after 10 warm-up steps, device synchronised at each round's ends, median of the
rounds' ms/step with their range; peak memory from torch.cuda (allocated and reserved)."""
import argparse, json, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = None
        if stride != 1 or inp != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class CifarResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(64)
        blocks, inp = [], 64
        for s, width in enumerate([64, 128, 256, 512]):
            for b in range(2):
                blocks.append(BasicBlock(inp, width, 2 if b == 0 and s > 0 else 1))
                inp = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = self.blocks(x)
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def measure(batch, device, rounds=3, steps=10, warmup=10):
    torch.manual_seed(0)
    model = CifarResNet18().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step():
        opt.zero_grad(set_to_none=False)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    per_round = []
    for _ in range(rounds):
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        per_round.append((time.perf_counter() - t) * 1000 / steps)
    result = {"batch": batch, "ms_per_step": {"median": statistics.median(per_round), "min": min(per_round), "max": max(per_round)},
              "peak_allocated_gb": torch.cuda.max_memory_allocated() / 1e9, "peak_reserved_gb": torch.cuda.max_memory_reserved() / 1e9}
    del model, opt, x, y
    torch.cuda.empty_cache()
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batches", type=int, nargs="+", default=[512, 2048, 8192])
    p.add_argument("--json")
    a = p.parse_args()
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = False
    out = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "rows": []}
    for b in a.batches:
        r = measure(b, device)
        out["rows"].append(r)
        print(f"pytorch sgd batch {b}: {r['ms_per_step']['median']:.1f} ms/step ({r['ms_per_step']['min']:.1f}-{r['ms_per_step']['max']:.1f}), "
              f"peak allocated {r['peak_allocated_gb']:.2f} GB, reserved {r['peak_reserved_gb']:.2f} GB", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
