"""The toolkit's models (src/Fop.Research/Models/) mirrored in PyTorch, module for module, so that parameter and buffer
names are the C# ones (TorchSharp names a module by its field: `stemBn`, `stages.3.shortcut.0.weight`) and a step case
written by `fop reference-step` loads by name. BatchNorm keeps PyTorch's defaults, which TorchSharp shares (eps 1e-5,
momentum 0.1); Linear and Conv2d have a bias unless the C# model turns it off."""
import torch.nn as nn
import torch.nn.functional as F


class Mlp(nn.Module):
    """Mlp.cs: flatten, Linear layers with ReLU between them (none after the last)."""

    def __init__(self, inputs, hidden, classes):
        super().__init__()
        widths = [inputs] + list(hidden) + [classes]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, x):
        x = x.flatten(1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class SmallCnn(nn.Module):
    """SmallCnn.cs: two 3x3 conv (+ BatchNorm, then without conv bias) + ReLU + 2x2 max-pool stages, then fc1 + ReLU, fc2."""

    def __init__(self, channels=1, classes=10, width=32, hidden=128, image_size=28, batch_norm=False):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 3, padding=1, bias=not batch_norm)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1, bias=not batch_norm)
        self.bn1 = nn.BatchNorm2d(width) if batch_norm else None
        self.bn2 = nn.BatchNorm2d(2 * width) if batch_norm else None
        spatial = image_size // 4
        self.fc1 = nn.Linear(2 * width * spatial * spatial, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = self.conv1(x)
        x = F.max_pool2d(F.relu(x if self.bn1 is None else self.bn1(x)), 2)
        x = self.conv2(x)
        x = F.max_pool2d(F.relu(x if self.bn2 is None else self.bn2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


class BasicBlock(nn.Module):
    """ResNet.cs BasicBlock: conv-bn-relu, conv-bn, plus the input or a 1x1 conv + bn projection when the shape changes, relu."""

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
    """ResNet.cs Cifar18 (ResNetBody): 3x3 stride-1 stem without bias, BatchNorm, ReLU, no max-pool; BasicBlocks [2, 2, 2, 2] of
    64-512 channels (stride 2 at the first block of stages 2-4); global average pool; Linear with bias."""

    def __init__(self, classes=10, channels=3):
        super().__init__()
        self.stem = nn.Conv2d(channels, 64, 3, stride=1, padding=1, bias=False)
        self.stemBn = nn.BatchNorm2d(64)
        stages, inp = [], 64
        for s, width in enumerate([64, 128, 256, 512]):
            for b in range(2):
                stages.append(BasicBlock(inp, width, 2 if b == 0 and s > 0 else 1))
                inp = width
        self.stages = nn.ModuleList(stages)
        self.fc = nn.Linear(inp, classes)

    def forward(self, x):
        x = F.relu(self.stemBn(self.stem(x)))
        for block in self.stages:
            x = block(x)
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


NAMES = ("mlp", "smallcnn", "smallcnn-bn", "resnet18")


def build(name, input_shape, classes, mlp_hidden=(512, 256)):
    """The model ModelCatalog.Create builds for `name` on examples of `input_shape` (C, H, W)."""
    c, h, w = input_shape
    if name == "mlp":
        return Mlp(c * h * w, mlp_hidden, classes)
    if name in ("smallcnn", "smallcnn-bn"):
        return SmallCnn(c, classes, image_size=h, batch_norm=name == "smallcnn-bn")
    if name == "resnet18":
        return CifarResNet18(classes, c)
    raise ValueError(f"model '{name}' has no mirror here; one of {', '.join(NAMES)}")
