"""torch.matmul at the shapes and dtypes of bench/gemm.bench.ts, on the same GPU, timed with CUDA
events after warm-up; prints one JSON row per case in the same schema. Exits 0 with a notice where
torch or CUDA is absent, so the device check can always run it."""
import json

from _common import median_ms, require_torch_cuda

torch = require_torch_cuda("gemm")


def linear_shapes(layer, batch, in_f, out_f):
    # Same products as the TypeScript bench: forward x @ W^T, grad input dY @ W, grad weight dY^T @ x.
    return [
        (f"{layer} forward {batch}x{in_f} @ {in_f}x{out_f}", batch, out_f, in_f, False, True),
        (f"{layer} grad input {batch}x{out_f} @ {out_f}x{in_f}", batch, in_f, out_f, False, False),
        (f"{layer} grad weight {out_f}x{batch} @ {batch}x{in_f}", out_f, in_f, batch, True, False),
    ]


SHAPES = linear_shapes("fc1", 64, 9216, 128) + linear_shapes("fc2", 64, 128, 10) + [
    ("4096^3", 4096, 4096, 4096, False, False)
]
DTYPES = [("float32", torch.float32), ("float16", torch.float16)]


def operand(rows, cols, transposed, dtype):
    # Stored the way hayate's gemm reads it, then viewed as the logical operand (no copy).
    if transposed:
        return torch.empty(cols, rows, device="cuda", dtype=dtype).uniform_(-1, 1).t()
    return torch.empty(rows, cols, device="cuda", dtype=dtype).uniform_(-1, 1)


def main():
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


if __name__ == "__main__":
    main()
