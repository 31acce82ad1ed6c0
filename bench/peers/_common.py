"""What the PyTorch peers share: the guard that exits 0 with a notice where torch or CUDA is absent
(stdout carries only JSON rows, so the notice goes to stderr), and CUDA-event timing."""
import sys


def require_torch_cuda(peer):
    """Returns the torch module, or exits 0 with a notice naming the peer."""
    try:
        import torch
    except ImportError:
        print(f"{peer} peer: torch is not installed; no peer rows", file=sys.stderr)
        sys.exit(0)
    if not torch.cuda.is_available():
        print(f"{peer} peer: CUDA is not available to torch; no peer rows", file=sys.stderr)
        sys.exit(0)
    return torch


def median_ms(torch, fn, samples=11, sample_ms=20):
    """Median milliseconds per call of fn, timed with CUDA events after warm-up. Each sample runs fn
    enough times to last about sample_ms, as the TypeScript benchmarks do."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    reps = 1
    while True:
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        if start.elapsed_time(end) >= sample_ms or reps >= 1 << 16:
            break
        reps *= 2
    times = []
    for _ in range(samples):
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / reps)
    times.sort()
    return times[len(times) // 2]
