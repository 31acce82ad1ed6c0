"""torch.matmul at the shapes and dtypes of bench/gemm.bench.ts; prints one JSON row per case in the
same schema.

On the GPU: timed with CUDA events after warm-up, TF32 off, float32 and float16. On the CPU
(PyTorch's CPU build; its float32 matmul is BLAS sgemm, OpenBLAS here): float32 only, at the CPU's
shapes (the seed's linear layers and the 256^3 .. 2048^3 squares), each case timed at 1, 2 and the
machine's cores threads (torch's and OpenBLAS's pools both set) and the best reported, with every
count's time in extra.msByThreads. The CPU case names are the benchmark's ('cpu <shape> float32').

Devices: HY_BENCH_DEVICES (a comma list) where set; without it the GPU alone, as this peer always
did (a notice and no rows where torch or CUDA is absent), so a run that names no device prints the
rows it always printed:  HY_BENCH_DEVICES=cpu /usr/bin/python3 bench/peers/gemm.py
"""
import json
import sys

from _common import case_name, emit, median_ms, require_torch, requested_devices, time_cpu_best

torch = require_torch("gemm")


def linear_shapes(layer, batch, in_f, out_f):
    # Same products as the TypeScript bench: forward x @ W^T, grad input dY @ W, grad weight dY^T @ x.
    return [
        (f"{layer} forward {batch}x{in_f} @ {in_f}x{out_f}", batch, out_f, in_f, False, True),
        (f"{layer} grad input {batch}x{out_f} @ {out_f}x{in_f}", batch, in_f, out_f, False, False),
        (f"{layer} grad weight {out_f}x{batch} @ {batch}x{in_f}", out_f, in_f, batch, True, False),
    ]


SEED = linear_shapes("fc1", 64, 9216, 128) + linear_shapes("fc2", 64, 128, 10)
SHAPES = SEED + [("4096^3", 4096, 4096, 4096, False, False)]
# As bench/gemm.bench.ts's shapesFor('cpu').
CPU_SHAPES = SEED + [(f"{n}^3", n, n, n, False, False) for n in (256, 512, 1024, 2048)]
DTYPES = [("float32", torch.float32), ("float16", torch.float16)]
# As bench/gemm.bench.ts's CPU budget.
CPU_TIMING = {"budget_ms": 1000}


def operand(rows, cols, transposed, dtype, device="cuda"):
    # Stored the way hayate's gemm reads it, then viewed as the logical operand (no copy).
    if transposed:
        return torch.empty(cols, rows, device=device, dtype=dtype).uniform_(-1, 1).t()
    return torch.empty(rows, cols, device=device, dtype=dtype).uniform_(-1, 1)


def run_cuda():
    # hayate's float32 kernels are IEEE fp32 FMA; keep torch off TF32 so the comparison is like for like.
    torch.backends.cuda.matmul.allow_tf32 = False
    device_name = torch.cuda.get_device_name()
    for name, m, n, k, trans_a, trans_b in SHAPES:
        for dtype_name, dtype in DTYPES:
            a = operand(m, k, trans_a, dtype)
            b = operand(k, n, trans_b, dtype)
            c = torch.empty(m, n, device="cuda", dtype=dtype)
            ms = median_ms(torch, lambda: torch.matmul(a, b, out=c))
            print(json.dumps({
                "bench": "gemm",
                "case": f"{name} {dtype_name}",
                "device": device_name,
                "medianMs": ms,
                "tflops": 2 * m * n * k / (ms * 1e-3) / 1e12,
                "extra": {"M": m, "N": n, "K": k, "transA": str(trans_a).lower(), "transB": str(trans_b).lower(),
                          "dtype": dtype_name, "peer": f"torch {torch.__version__}"},
            }), flush=True)


def run_cpu():
    """float32 only, as bench/harness.ts's benchDtypes('cpu')."""
    for name, m, n, k, trans_a, trans_b in CPU_SHAPES:
        a = operand(m, k, trans_a, torch.float32, "cpu")
        b = operand(k, n, trans_b, torch.float32, "cpu")
        c = torch.empty(m, n, dtype=torch.float32)
        ms, extra = time_cpu_best(torch, lambda: torch.matmul(a, b, out=c), **CPU_TIMING)
        emit(torch, "gemm", "cpu", case_name("cpu", f"{name} float32"), ms, flops=2 * m * n * k,
             M=m, N=n, K=k, transA=str(trans_a).lower(), transB=str(trans_b).lower(), dtype="float32", **extra)
        del a, b, c


def main():
    chosen = requested_devices(torch)
    if not chosen:
        print("gemm peer: CUDA is not available to torch and HY_BENCH_DEVICES names no other device; no peer rows", file=sys.stderr)
    if "cuda" in chosen:
        run_cuda()
    if "cpu" in chosen:
        run_cpu()


if __name__ == "__main__":
    main()
