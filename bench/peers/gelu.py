"""PyTorch peer of bench/gelu.bench.ts: torch.nn.functional.gelu forward and backward, the unfused
composition, and (on the GPU) the device-to-device copy, at the same sizes and dtypes.
Prints one JSON row per case (same schema as hayate's rows).

On the GPU: CUDA events, float32 and float16 at 2000x3000 and 64M elements. On the CPU: the
benchmark's CPU cases ('cpu <size> <dtype> <kind>': 2000x3000 in float32 and float16, 64M in
float32; no copy row), each timed at 1, 2 and the machine's cores threads and the best reported
(extra.threads, extra.msByThreads). A float16 case this PyTorch's CPU build has no kernel for
(torch 1.13 has no CPU float16 gelu or erf) is named on stderr and has no peer row; that is not a
failure of the peer.

Devices: HY_BENCH_DEVICES (a comma list) where set; without it the GPU alone, as this peer always
did:  HY_BENCH_DEVICES=cpu /usr/bin/python3 bench/peers/gelu.py
"""
import json
import sys

from _common import case_name, emit, median_ms, require_torch, requested_devices, time_cpu_best

torch = require_torch("gelu")
F = torch.nn.functional
# As bench/gelu.bench.ts's CPU budget.
CPU_TIMING = {"budget_ms": 1000}
SIZES = (("2000x3000", (2000, 3000)), ("64M", (64 << 20,)))
KIND = {"fused": "forward fused", "unfused": "forward unfused (5 kernels)", "backward": "backward fused", "copy": "device copy (ceiling)"}


def run_cuda():
    device = torch.cuda.get_device_name()

    def row(case, ms, nbytes, **extra):
        r = {"bench": "gelu", "case": case, "device": device, "medianMs": ms, "gbps": nbytes / ms / 1e6, "peer": "torch " + torch.__version__}
        if extra:
            r["extra"] = extra
        print(json.dumps(r))

    for label, shape in SIZES:
        for name, dtype in (("float32", torch.float32), ("float16", torch.float16)):
            x = torch.randn(shape, device="cuda", dtype=dtype)
            g = torch.randn(shape, device="cuda", dtype=dtype)
            out = torch.empty_like(x)
            n, es = x.numel(), x.element_size()
            case = f"{label} {name}"
            fused = median_ms(torch, lambda: F.gelu(x))
            unfused = median_ms(torch, lambda: x * 0.5 * (1.0 + torch.erf(x / 1.41421)))
            backward = median_ms(torch, lambda: torch.ops.aten.gelu_backward(g, x))
            copy = median_ms(torch, lambda: out.copy_(x))
            row(f"{case} {KIND['fused']}", fused, 2 * n * es)
            row(f"{case} {KIND['unfused']}", unfused, 2 * n * es, unfusedOverFused=round(unfused / fused, 2))
            row(f"{case} {KIND['backward']}", backward, 3 * n * es)
            row(f"{case} {KIND['copy']}", copy, 2 * n * es)
            del x, g, out
            torch.cuda.empty_cache()


def run_cpu():
    for label, shape in SIZES:
        for name, dtype in (("float32", torch.float32), ("float16", torch.float16)):
            if dtype == torch.float16 and label == "64M":
                continue  # as bench/gelu.bench.ts: no 64M float16 row on the CPU
            # Made in float32 and cast: torch.randn has no float16 form on the CPU in older releases.
            x = torch.randn(shape).to(dtype)
            g = torch.randn(shape).to(dtype)
            n, es = x.numel(), x.element_size()
            prefix = case_name("cpu", f"{label} {name}")
            timed = {}
            for kind, nbytes, fn in (
                ("fused", 2 * n * es, lambda: F.gelu(x)),
                ("unfused", 2 * n * es, lambda: x * 0.5 * (1.0 + torch.erf(x / 1.41421))),
                ("backward", 3 * n * es, lambda: torch.ops.aten.gelu_backward(g, x)),
            ):
                case = f"{prefix} {KIND[kind]}"
                try:
                    ms, extra = time_cpu_best(torch, fn, **CPU_TIMING)
                except (RuntimeError, NotImplementedError) as e:
                    print(f"gelu peer: {case}: this PyTorch's CPU build cannot run it ({e}); no peer row", file=sys.stderr)
                    continue
                timed[kind] = ms
                if kind == "unfused" and "fused" in timed:
                    extra["unfusedOverFused"] = round(ms / timed["fused"], 2)
                emit(torch, "gelu", "cpu", case, ms, nbytes, **extra)
            del x, g


def main():
    chosen = requested_devices(torch)
    if not chosen:
        print("gelu peer: CUDA is not available to torch and HY_BENCH_DEVICES names no other device; no peer rows", file=sys.stderr)
    if "cuda" in chosen:
        run_cuda()
    if "cpu" in chosen:
        run_cpu()


if __name__ == "__main__":
    main()
