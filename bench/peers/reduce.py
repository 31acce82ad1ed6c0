"""PyTorch peer of bench/reduce.bench.ts: torch.sum over the last dimension, the first and
everything, at the same shapes, dtypes and devices. Prints one JSON row per case in the schema of
bench/harness.ts."""
from _common import case_name, devices, dtypes, require_torch, run_cases

torch = require_torch("reduce")
TIMING = {"cuda": {"budget_ms": 300}, "cpu": {"budget_ms": 800}}


def matrix(device):
    return (8192, 8192) if device == "cuda" else (2048, 2048)


def total(device, dtype, shape, dim):
    def setup():
        x = torch.randn(shape, device=device, dtype=dtype)
        return (lambda: torch.sum(x)) if dim is None else (lambda: torch.sum(x, dim))
    return setup


def cases():
    for device in devices(torch):
        r, c = matrix(device)
        n, size = r * c, f"{r}x{c}"
        for name, dtype in dtypes(torch, device):
            es = torch.tensor([], dtype=dtype).element_size()
            for label, outs, dim in (("dim -1", r, -1), ("dim 0", c, 0), ("all", 1, None)):
                yield device, case_name(device, f"sum {label} {size} {name}"), (n + outs) * es, total(device, dtype, (r, c), dim)


if __name__ == "__main__":
    run_cases(torch, "reduce", cases(), **TIMING)
