"""PyTorch peer of bench/elementwise.bench.ts: a + b (same shape, and a row vector broadcast along
the rows), x * 2.5, torch.exp, 256 64-element adds a sample (the per-op overhead) and the float32 <-> float16
casts, at the same shapes, dtypes and devices. Prints one JSON row per case in the schema of
bench/harness.ts. Each CPU case is timed at 1, 2 and the machine's cores threads and the best
reported (extra.threads, extra.msByThreads), so a CPU ratio is against PyTorch at its best thread
count."""
from _common import case_name, devices, dtypes, require_torch, run_cases_best

torch = require_torch("elementwise")
TIMING = {"cuda": {"budget_ms": 300}, "cpu": {"budget_ms": 800}}


def matrix(device):
    return (8192, 8192) if device == "cuda" else (2000, 3000)


def binary(device, dtype, shape_a, shape_b):
    def setup():
        a = torch.randn(shape_a, device=device, dtype=dtype)
        b = torch.randn(shape_b, device=device, dtype=dtype)
        return lambda: a + b
    return setup


def unary(device, dtype, shape, op):
    def setup():
        x = torch.randn(shape, device=device, dtype=dtype)
        return lambda: op(x)
    return setup


def cases():
    for device in devices(torch):
        r, c = matrix(device)
        n, size = r * c, f"{r}x{c}"
        for name, dtype in dtypes(torch, device):
            es = torch.tensor([], dtype=dtype).element_size()
            yield device, case_name(device, f"add {size} + {size} {name}"), 3 * n * es, binary(device, dtype, (r, c), (r, c))
            yield device, case_name(device, f"add {size} + {c} (broadcast) {name}"), 2 * n * es + c * es, binary(device, dtype, (r, c), (c,))
            yield device, case_name(device, f"mul scalar {size} {name}"), 2 * n * es, unary(device, dtype, (r, c), lambda x: x * 2.5)
            yield device, case_name(device, f"exp {size} {name}"), 2 * n * es, unary(device, dtype, (r, c), torch.exp)
            # One small op 256 times a sample: the per-op overhead of a call, as the benchmark's row.
            yield device, case_name(device, f"add 64 + 64 x256 (per-op overhead) {name}"), OVERHEAD_CALLS * 3 * 64 * es, repeated_add(device, dtype)
        yield device, case_name(device, f"cast {size} float32->float16"), 6 * n, unary(device, torch.float32, (r, c), lambda x: x.to(torch.float16))
        yield device, case_name(device, f"cast {size} float16->float32"), 6 * n, cast_from_half(device, (r, c))


OVERHEAD_CALLS = 256


def repeated_add(device, dtype):
    def setup():
        a = torch.randn((64,), device=device, dtype=dtype)
        b = torch.randn((64,), device=device, dtype=dtype)

        def fn():
            for _ in range(OVERHEAD_CALLS):
                torch.add(a, b)
        return fn
    return setup


def cast_from_half(device, shape):
    def setup():
        # Made in float32 and cast: torch.randn has no float16 form on the CPU in older releases.
        x = torch.randn(shape, device=device).to(torch.float16)
        return lambda: x.to(torch.float32)
    return setup


if __name__ == "__main__":
    run_cases_best(torch, "elementwise", cases(), **TIMING)
