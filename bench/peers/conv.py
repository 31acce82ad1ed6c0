"""PyTorch peer of bench/conv.bench.ts: torch.nn.functional.conv2d forward and
torch.ops.aten.convolution_backward for each backward alone (output_mask asks for the input's or the
weight's gradient only), at the same shapes, dtypes and devices, plus the seed network's convolution
stack at batch 64 (both convolutions with bias, forward and autograd's backward). Prints one JSON
row per case in the schema of bench/harness.ts, named as the benchmark's 'autotuned' rows so that
bench/compare.ts pairs them.

On the GPU with torch.backends.cudnn.benchmark = True (cuDNN's own autotuner) and TF32 off, as
hayate's float32 kernels are IEEE float32. On the CPU (PyTorch's CPU build: oneDNN where it has it,
else its im2col + BLAS path) each case is timed at several thread counts (1, 2 and the machine's
cores, or --threads) and the best is reported; its extra names the count ('threads') and every count's
time ('msByThreads'). The CPU times the mnist and odd shapes only, as the benchmark does
(HY_BENCH_CONV_RESNET=1 adds ResNet-50's). Every torch setting changed here is put back afterwards:
bench/peers/all.py runs the other peers in the same process.

Devices: HY_BENCH_DEVICES (a comma list), as every peer, or --device cpu|cuda|cpu,cuda when run
alone:  /usr/bin/python3 bench/peers/conv.py --device cpu
"""
import argparse
import os
import sys

from _common import case_name, devices, dtypes, emit, require_torch, time_ms

torch = require_torch("conv")
F = torch.nn.functional

# As bench/conv.bench.ts's TIMING (on the CPU three warm-up calls: oneDNN makes its primitives on the first).
TIMING = {
    "cuda": {"warmup": 2, "sample_ms": 3, "samples": 5, "budget_ms": 15},
    "cpu": {"warmup": 3, "budget_ms": 1000},
}


def shape(tag, n, c, hw, k, rs, stride=1, pad=0, dilation=1, groups=1):
    h, w = (hw, hw) if isinstance(hw, int) else hw
    return dict(tag=tag, N=n, C=c, H=h, W=w, K=k, R=rs, S=rs, stride=stride, pad=pad, dilation=dilation, groups=groups)


def mnist_shapes(batch):
    return [shape("mnist conv1", batch, 1, 28, 32, 3), shape("mnist conv2", batch, 32, 26, 64, 3)]


def resnet_shapes():
    b = 32
    return [
        shape("resnet50 3x3", b, 64, 56, 64, 3, pad=1),
        shape("resnet50 3x3", b, 128, 28, 128, 3, pad=1),
        shape("resnet50 3x3", b, 256, 14, 256, 3, pad=1),
        shape("resnet50 3x3", b, 512, 7, 512, 3, pad=1),
        shape("resnet50 3x3", b, 128, 56, 128, 3, stride=2, pad=1),
        shape("resnet50 3x3", b, 256, 28, 256, 3, stride=2, pad=1),
        shape("resnet50 3x3", b, 512, 14, 512, 3, stride=2, pad=1),
        shape("resnet50 1x1", b, 64, 56, 256, 1),
        shape("resnet50 1x1", b, 256, 56, 64, 1),
        shape("resnet50 1x1", b, 512, 28, 128, 1),
        shape("resnet50 1x1", b, 1024, 14, 256, 1),
        shape("resnet50 1x1", b, 2048, 7, 512, 1),
        shape("resnet50 1x1", b, 256, 56, 512, 1, stride=2),
    ]


def odd_shapes():
    return [
        shape("odd 5x5", 8, 3, (33, 31), 17, 5, stride=2, pad=2),
        shape("odd depthwise", 16, 32, 28, 32, 3, pad=1, groups=32),
        shape("odd dilated", 16, 32, 28, 32, 3, pad=2, dilation=2),
    ]


def shapes_for(device):
    resnet = device == "cuda" or os.environ.get("HY_BENCH_CONV_RESNET") == "1"
    return mnist_shapes(64) + mnist_shapes(512) + (resnet_shapes() if resnet else []) + odd_shapes()


def label(s):
    """As bench/conv.bench.ts's shapeLabel."""
    text = f"{s['tag']} {s['N']}x{s['C']}x{s['H']}x{s['W']} w{s['K']}x{s['C'] // s['groups']}x{s['R']}x{s['S']}"
    if s["stride"] != 1:
        text += f" s{s['stride']}"
    if s["pad"] != 0:
        text += f" p{s['pad']}"
    if s["dilation"] != 1:
        text += f" d{s['dilation']}"
    if s["groups"] != 1:
        text += f" g{s['groups']}"
    return text


def out_size(s):
    def one(size, k):
        return (size + 2 * s["pad"] - (s["dilation"] * (k - 1) + 1)) // s["stride"] + 1
    return one(s["H"], s["R"]), one(s["W"], s["S"])


def flops(s):
    p, q = out_size(s)
    return 2 * s["N"] * s["K"] * p * q * (s["C"] // s["groups"]) * s["R"] * s["S"]


def x_shape(s):
    return (s["N"], s["C"], s["H"], s["W"])


def w_shape(s):
    return (s["K"], s["C"] // s["groups"], s["R"], s["S"])


def y_shape(s):
    return (s["N"], s["K"]) + out_size(s)


def direction(device, dtype, s, which):
    """setup() for one direction: the forward, or convolution_backward asking for one gradient."""
    def setup():
        x = torch.randn(x_shape(s), device=device, dtype=dtype)
        w = torch.randn(w_shape(s), device=device, dtype=dtype)
        st, pd, dl, g = [s["stride"]] * 2, [s["pad"]] * 2, [s["dilation"]] * 2, s["groups"]
        if which == "forward":
            return lambda: F.conv2d(x, w, None, st, pd, dl, g)
        gy = torch.randn(y_shape(s), device=device, dtype=dtype)
        mask = [True, False, False] if which == "backward data" else [False, True, False]
        backward = torch.ops.aten.convolution_backward
        return lambda: backward(gy, x, w, None, st, pd, dl, False, [0, 0], g, mask)
    return setup


def stack(device, dtype):
    """The seed network's convolutions at batch 64, with bias: forward and every gradient, as the
    benchmark's stack row."""
    def setup():
        layers = []
        for s in mnist_shapes(64):
            def make(shp):
                return torch.randn(shp, device=device, dtype=dtype, requires_grad=True)
            x, w, b = make(x_shape(s)), make(w_shape(s)), make((s["K"],))
            g = torch.randn(y_shape(s), device=device, dtype=dtype)
            layers.append((x, w, b, g))

        def fn():
            for x, w, b, g in layers:
                y = F.conv2d(x, w, b)
                torch.autograd.grad(y, (x, w, b), g)
        return fn
    return setup


def cases(device):
    """(case, flops, setup) for every row of a device, in the benchmark's order."""
    for s in shapes_for(device):
        for name, dtype in dtypes(torch, device):
            for which in ("forward", "backward data", "backward filter"):
                yield case_name(device, f"{label(s)} {name} {which} autotuned"), flops(s), direction(device, dtype, s, which)
    for name, dtype in dtypes(torch, device):
        yield case_name(device, f"mnist conv stack 64 {name} forward+backward autotuned"), 3 * sum(map(flops, mnist_shapes(64))), stack(device, dtype)


def thread_counts(arg):
    if arg:
        return sorted({int(t) for t in arg.split(",") if t.strip()})
    return sorted({1, 2, os.cpu_count() or 1})


def run_device(device, threads):
    """Times and prints every case of one device; returns how many could not run."""
    failed = 0
    for case, fl, setup in cases(device):
        try:
            fn = setup()
            if device == "cuda":
                ms, count, reps = time_ms(torch, device, fn, **TIMING[device])
                extra = {"samples": count, "reps": reps, "algo": "cudnn.benchmark, no TF32"}
            else:
                by_threads = {}
                for t in threads:
                    torch.set_num_threads(t)
                    by_threads[t] = time_ms(torch, device, fn, **TIMING[device])
                best = min(by_threads, key=lambda t: by_threads[t][0])
                # emit() reports torch.get_num_threads() as the row's thread count: the best one's.
                torch.set_num_threads(best)
                ms, count, reps = by_threads[best]
                extra = {"samples": count, "reps": reps, "mkldnn": bool(torch.backends.mkldnn.is_available()),
                         "msByThreads": ", ".join(f"{t}: {v[0]:.3f}" for t, v in by_threads.items())}
        except (RuntimeError, NotImplementedError) as e:
            failed += 1
            print(f"conv peer: {case} on {device}: {e}", file=sys.stderr)
            continue
        emit(torch, "conv", device, case, ms, flops=fl, **extra)
        del fn
        if device == "cuda":
            torch.cuda.empty_cache()
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", help="cpu, cuda or cpu,cuda (default: HY_BENCH_DEVICES, else every device torch has)")
    parser.add_argument("--threads", help="CPU thread counts to try, a comma list (default: 1, 2 and the machine's cores)")
    # parse_known_args: under bench/peers/all.py, sys.argv is all.py's.
    args, _ = parser.parse_known_args()
    present = devices(torch)
    wanted = [d for d in (args.device or "").split(",") if d] if args.device else present
    missing = [d for d in wanted if d not in ("cpu", "cuda") or (d == "cuda" and not torch.cuda.is_available())]
    if missing:
        print(f"conv peer: device(s) {', '.join(missing)} not available to this torch; skipped", file=sys.stderr)
    chosen = [d for d in ("cuda", "cpu") if d in wanted and d not in missing]

    cudnn = torch.backends.cudnn
    saved = (cudnn.benchmark, cudnn.allow_tf32, torch.get_num_threads())
    cudnn.benchmark = True
    cudnn.allow_tf32 = False
    failed = 0
    try:
        for device in chosen:
            failed += run_device(device, thread_counts(args.threads))
    finally:
        cudnn.benchmark, cudnn.allow_tf32 = saved[0], saved[1]
        torch.set_num_threads(saved[2])
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
