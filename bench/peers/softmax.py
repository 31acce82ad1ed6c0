"""PyTorch peer of bench/softmax.bench.ts: torch.nn.functional.softmax and log_softmax over the last dimension,
forward and autograd backward, at the same shapes, dtypes and devices (CPU, and CUDA where torch has
it). Prints one JSON row per case in the schema of bench/harness.ts.
Each CPU case is timed at 1, 2 and the machine's cores threads and the best reported (extra.threads,
extra.msByThreads), so a CPU ratio is against PyTorch at its best thread count."""
from _common import case_name, devices, dtypes, require_torch, run_cases_best

torch = require_torch("softmax")
F = torch.nn.functional
TIMING = {"cuda": {"budget_ms": 300}, "cpu": {"budget_ms": 1000}}


def shapes(device):
    return [(8192, 4096) if device == "cuda" else (2000, 3000), (64, 10)]


FUNCTIONS = {"logSoftmax": F.log_softmax, "softmax": F.softmax}


def forward(f, device, dtype, shape):
    def setup():
        x = torch.randn(shape, device=device, dtype=dtype)
        return lambda: f(x, dim=-1)
    return setup


def backward(f, device, dtype, shape):
    def setup():
        x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
        y = f(x, dim=-1)
        g = torch.randn(shape, device=device, dtype=dtype)
        return lambda: torch.autograd.grad(y, x, g, retain_graph=True)
    return setup


def cases():
    for op, f in FUNCTIONS.items():
        for device in devices(torch):
            for rows, cols in shapes(device):
                for name, dtype in dtypes(torch, device):
                    n, es = rows * cols, torch.tensor([], dtype=dtype).element_size()
                    prefix = case_name(device, f"{op} {rows}x{cols} {name}")
                    yield device, f"{prefix} forward", 2 * n * es, forward(f, device, dtype, (rows, cols))
                    yield device, f"{prefix} backward", 3 * n * es, backward(f, device, dtype, (rows, cols))


if __name__ == "__main__":
    run_cases_best(torch, "softmax", cases(), **TIMING)
