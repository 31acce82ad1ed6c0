"""PyTorch peer of bench/maxpool.bench.ts: torch.nn.functional.max_pool2d (kernel 2, stride 2)
forward and autograd backward, at the same shapes, dtypes and devices. Prints one JSON row per case
in the schema of bench/harness.ts."""
from _common import case_name, devices, dtypes, require_torch, run_cases

torch = require_torch("maxpool")
F = torch.nn.functional
TIMING = {"cuda": {"budget_ms": 300}, "cpu": {"budget_ms": 1000}}


def shapes(device):
    return [(64, 64, 24, 24), (32, 64, 112, 112)] if device == "cuda" else [(64, 64, 24, 24)]


def forward(device, dtype, shape):
    def setup():
        x = torch.randn(shape, device=device, dtype=dtype)
        return lambda: F.max_pool2d(x, 2)
    return setup


def backward(device, dtype, shape):
    def setup():
        x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
        y = F.max_pool2d(x, 2)
        g = torch.randn(y.shape, device=device, dtype=dtype)
        return lambda: torch.autograd.grad(y, x, g, retain_graph=True)
    return setup


def cases():
    for device in devices(torch):
        for shape in shapes(device):
            nb, c, h, w = shape
            n, m = nb * c * h * w, nb * c * (h // 2) * (w // 2)
            for name, dtype in dtypes(torch, device):
                es = torch.tensor([], dtype=dtype).element_size()
                prefix = case_name(device, f"maxPool2d k2 s2 {'x'.join(map(str, shape))} {name}")
                yield device, f"{prefix} forward", n * es + m * (es + 4), forward(device, dtype, shape)
                yield device, f"{prefix} backward", m * (es + 4) + n * es, backward(device, dtype, shape)


if __name__ == "__main__":
    run_cases(torch, "maxpool", cases(), **TIMING)
