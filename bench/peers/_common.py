"""What the PyTorch peers share: importing torch (with the peers' folder off the module path), the
guard that exits 0 with a notice where torch or CUDA is absent (stdout carries only JSON rows, so the
notice goes to stderr), CUDA-event and CPU timing, and the row format."""
import os
import sys

_PEERS = os.path.dirname(os.path.abspath(__file__))


def _import_torch():
    """Imports torch with this folder off the module path. Python puts a script's folder first on
    sys.path, and the peers' file names are also module names torch imports (copy.py is the
    standard library's copy), which would run a peer inside torch's own import."""
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _PEERS]
    shadow = sys.modules.get("copy")
    if shadow is not None and os.path.dirname(os.path.abspath(getattr(shadow, "__file__", "") or "")) == _PEERS:
        del sys.modules["copy"]
    import torch

    return torch


def require_torch_cuda(peer):
    """Returns the torch module, or exits 0 with a notice naming the peer."""
    try:
        torch = _import_torch()
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


def require_torch(peer):
    """Returns the torch module, or exits 0 with a notice naming the peer. For the peers that
    measure the CPU as well as CUDA (and so run where CUDA is absent)."""
    try:
        torch = _import_torch()
    except ImportError:
        print(f"{peer} peer: torch is not installed; no peer rows", file=sys.stderr)
        sys.exit(0)
    return torch


def devices(torch):
    """The devices to measure, CUDA first where torch has it, as the TypeScript benchmarks do;
    HY_BENCH_DEVICES (a comma list) keeps only those, as bench/harness.ts's benchDevices."""
    present = ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]
    wanted = [d.strip() for d in os.environ.get("HY_BENCH_DEVICES", "").split(",") if d.strip()]
    return [d for d in present if d in wanted] if wanted else present


def dtypes(torch, device):
    """float16 on the GPU only, as bench/harness.ts's benchDtypes."""
    names = [("float32", torch.float32)]
    if device == "cuda":
        names.append(("float16", torch.float16))
    return names


def case_name(device, rest):
    """CPU cases start with 'cpu ', as bench/harness.ts's caseName."""
    return ("cpu " if device == "cpu" else "") + rest


def device_label(torch, device):
    return torch.cuda.get_device_name() if device == "cuda" else "cpu"


def time_ms(torch, device, fn, samples=11, min_samples=3, sample_ms=20, budget_ms=1500, warmup=3):
    """Median milliseconds per call of fn on device, as bench/timer.ts measures: after warm-up,
    each sample runs fn enough times to last about sample_ms; fewer samples (never under
    min_samples) when budget_ms would be exceeded. CUDA samples are timed with CUDA events, CPU
    ones with perf_counter. Returns (median, number of samples, calls per sample)."""
    import time

    if device == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def sample(reps):
            start.record()
            for _ in range(reps):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
    else:
        def sample(reps):
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            return (time.perf_counter() - t0) * 1e3

    if warmup > 0:
        sample(warmup)
    reps = 1
    while True:
        last = sample(reps)
        if last >= sample_ms or reps >= 1 << 16:
            break
        reps *= 8 if last < sample_ms / 8 else 2
    count = max(min_samples, min(samples, int(budget_ms / max(last, 1e-3))))
    times = sorted(sample(reps) / reps for _ in range(count))
    mid = len(times) // 2
    median = times[mid] if len(times) % 2 == 1 else (times[mid - 1] + times[mid]) / 2
    return median, count, reps


def emit(torch, bench, device, case, ms, nbytes=None, flops=None, **extra):
    """Prints one row (one JSON object a line) in the schema of bench/harness.ts."""
    import json

    row = {"bench": bench, "case": case, "device": device_label(torch, device), "medianMs": ms}
    if nbytes is not None:
        row["gbps"] = nbytes / (ms * 1e-3) / 1e9
    if flops is not None:
        row["tflops"] = flops / (ms * 1e-3) / 1e12
    extra["peer"] = f"torch {torch.__version__}"
    threads = torch.get_num_threads() if device == "cpu" else None
    if isinstance(threads, int):
        extra["threads"] = threads
    row["extra"] = extra
    print(json.dumps(row), flush=True)


def run_cases(torch, bench, cases, **timing):
    """Times and prints each (device, case, nbytes, setup) in turn: setup() returns the function to
    time. A case this PyTorch cannot run (a kernel missing for a dtype on a device) is reported on
    stderr and left out, and the others still print; the exit status is 1 if any was left out."""
    failed = 0
    for device, case, nbytes, setup in cases:
        try:
            fn = setup()
            ms, count, reps = time_ms(torch, device, fn, **timing.get(device, {}))
        except (RuntimeError, NotImplementedError) as e:
            failed += 1
            print(f"{bench} peer: {case} on {device}: {e}", file=sys.stderr)
            continue
        emit(torch, bench, device, case, ms, nbytes, samples=count, reps=reps)
        del fn
        if device == "cuda":
            torch.cuda.empty_cache()
    if failed:
        sys.exit(1)
