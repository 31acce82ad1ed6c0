"""PyTorch peer of bench/gelu.bench.ts: torch.nn.functional.gelu forward and backward, the unfused
composition, and the device-to-device copy, at the same sizes and dtypes on the same GPU.
Prints one JSON row per case (same schema as hayate's rows)."""
import json
import sys

try:
    import torch
except ImportError:
    print("gelu peer: torch is not installed; skipped", file=sys.stderr)
    sys.exit(0)

if not torch.cuda.is_available():
    print("gelu peer: no CUDA device; skipped", file=sys.stderr)
    sys.exit(0)

DEVICE = torch.cuda.get_device_name()


def median_ms(fn, reps=30, inner=20):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / inner)
    times.sort()
    return times[len(times) // 2]


def row(case, ms, nbytes, **extra):
    r = {"bench": "gelu", "case": case, "device": DEVICE, "medianMs": ms, "gbps": nbytes / ms / 1e6, "peer": "torch " + torch.__version__}
    if extra:
        r["extra"] = extra
    print(json.dumps(r))


for label, shape in (("2000x3000", (2000, 3000)), ("64M", (64 << 20,))):
    for name, dtype in (("float32", torch.float32), ("float16", torch.float16)):
        x = torch.randn(shape, device="cuda", dtype=dtype)
        g = torch.randn(shape, device="cuda", dtype=dtype)
        out = torch.empty_like(x)
        n, es = x.numel(), x.element_size()
        case = f"{label} {name}"
        fused = median_ms(lambda: torch.nn.functional.gelu(x))
        unfused = median_ms(lambda: x * 0.5 * (1.0 + torch.erf(x / 1.41421)))
        backward = median_ms(lambda: torch.ops.aten.gelu_backward(g, x))
        copy = median_ms(lambda: out.copy_(x))
        row(f"{case} forward fused", fused, 2 * n * es)
        row(f"{case} forward unfused (5 kernels)", unfused, 2 * n * es, unfusedOverFused=round(unfused / fused, 2))
        row(f"{case} backward fused", backward, 3 * n * es)
        row(f"{case} device copy (ceiling)", copy, 2 * n * es)
        del x, g, out
        torch.cuda.empty_cache()
