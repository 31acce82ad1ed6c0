"""PyTorch peer of bench/gelu.bench.ts: torch.nn.functional.gelu forward and backward, the unfused
composition, and the device-to-device copy, at the same sizes and dtypes on the same GPU.
Prints one JSON row per case (same schema as hayate's rows)."""
import json

from _common import median_ms, require_torch_cuda

torch = require_torch_cuda("gelu")
DEVICE = torch.cuda.get_device_name()


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
        fused = median_ms(torch, lambda: torch.nn.functional.gelu(x))
        unfused = median_ms(torch, lambda: x * 0.5 * (1.0 + torch.erf(x / 1.41421)))
        backward = median_ms(torch, lambda: torch.ops.aten.gelu_backward(g, x))
        copy = median_ms(torch, lambda: out.copy_(x))
        row(f"{case} forward fused", fused, 2 * n * es)
        row(f"{case} forward unfused (5 kernels)", unfused, 2 * n * es, unfusedOverFused=round(unfused / fused, 2))
        row(f"{case} backward fused", backward, 3 * n * es)
        row(f"{case} device copy (ceiling)", copy, 2 * n * es)
        del x, g, out
        torch.cuda.empty_cache()
