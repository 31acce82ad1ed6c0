"""PyTorch peer of bench/generate.bench.ts: torch.full, torch.rand and torch.randn, at the same
sizes, dtypes and devices (each call allocates its output). Prints one JSON row per case in the
schema of bench/harness.ts."""
from _common import case_name, devices, dtypes, require_torch, run_cases

torch = require_torch("generate")
TIMING = {"cuda": {"budget_ms": 300}, "cpu": {"budget_ms": 800}}


def sizes(device):
    return [("64M", 64 << 20)] if device == "cuda" else [("4M", 4 << 20)]


def make(fn):
    return lambda: fn


def cases():
    for device in devices(torch):
        for label, n in sizes(device):
            for name, dtype in dtypes(torch, device):
                es = torch.tensor([], dtype=dtype).element_size()
                opts = {"device": device, "dtype": dtype}
                yield device, case_name(device, f"full {label} {name}"), n * es, make(lambda o=opts, n=n: torch.full((n,), 1.5, **o))
                yield device, case_name(device, f"rand {label} {name}"), n * es, make(lambda o=opts, n=n: torch.rand(n, **o))
                yield device, case_name(device, f"randn {label} {name}"), n * es, make(lambda o=opts, n=n: torch.randn(n, **o))


if __name__ == "__main__":
    run_cases(torch, "generate", cases(), **TIMING)
