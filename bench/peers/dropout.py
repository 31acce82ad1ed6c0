"""PyTorch peer of bench/dropout.bench.ts: torch.nn.functional.dropout (p 0.5, training) forward and
autograd backward, at the same sizes, dtypes and devices. Prints one JSON row per case in the schema
of bench/harness.ts."""
from _common import case_name, devices, dtypes, require_torch, run_cases

torch = require_torch("dropout")
F = torch.nn.functional
TIMING = {"cuda": {"budget_ms": 300}, "cpu": {"budget_ms": 1000}}


def sizes(device):
    return [("64M", 64 << 20)] if device == "cuda" else [("4M", 4 << 20)]


def forward(device, dtype, n):
    def setup():
        x = torch.randn(n, device=device, dtype=dtype)
        return lambda: F.dropout(x, 0.5, training=True)
    return setup


def backward(device, dtype, n):
    def setup():
        x = torch.randn(n, device=device, dtype=dtype, requires_grad=True)
        y = F.dropout(x, 0.5, training=True)
        g = torch.randn(n, device=device, dtype=dtype)
        return lambda: torch.autograd.grad(y, x, g, retain_graph=True)
    return setup


def cases():
    for device in devices(torch):
        for label, n in sizes(device):
            for name, dtype in dtypes(torch, device):
                es = torch.tensor([], dtype=dtype).element_size()
                prefix = case_name(device, f"dropout p0.5 {label} {name}")
                yield device, f"{prefix} forward", 2 * n * es + n, forward(device, dtype, n)
                yield device, f"{prefix} backward", 2 * n * es + n, backward(device, dtype, n)


if __name__ == "__main__":
    run_cases(torch, "dropout", cases(), **TIMING)
