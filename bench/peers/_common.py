"""What the PyTorch peers share: importing torch (with the peers' folder off the module path), the
guard that exits 0 with a notice where torch or CUDA is absent (stdout carries only JSON rows, so the
notice goes to stderr), CUDA-event and CPU timing, the CPU's best-of-thread-counts timing, and the
row format."""
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
    # A CPU row names its thread count: the caller's (time_cpu_best's best), else torch's current one.
    threads = torch.get_num_threads() if device == "cpu" and "threads" not in extra else None
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


def requested_devices(torch, default=("cuda",)):
    """The devices to measure for a peer whose rows were GPU-only before it measured the CPU too:
    devices(torch) where HY_BENCH_DEVICES is set, else those of `default` torch has (so a run
    without HY_BENCH_DEVICES prints what it always printed)."""
    if any(d.strip() for d in os.environ.get("HY_BENCH_DEVICES", "").split(",")):
        return devices(torch)
    return [d for d in devices(torch) if d in default]


def cpu_thread_counts():
    """The CPU thread counts a case is timed at: 1, 2 and the machine's cores."""
    return sorted({1, 2, os.cpu_count() or 1})


_BLAS = []


def _openblas():
    """The OpenBLAS library loaded in this process (torch's CPU matmul calls it), or None. Its own
    thread pool does not follow torch.set_num_threads, so the thread sweep sets it as well."""
    if _BLAS:
        return _BLAS[0]
    import ctypes

    found = None
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.rsplit("/", 1)[-1]})
    except OSError:
        paths = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_num_threads.restype = ctypes.c_int
            lib.openblas_set_num_threads.argtypes = [ctypes.c_int]
        except (OSError, AttributeError):
            continue
        found = lib
        break
    _BLAS.append(found)
    return found


def cpu_threads(torch):
    """torch's CPU thread count and OpenBLAS's (None without OpenBLAS), for set_cpu_threads to put back."""
    blas = _openblas()
    return torch.get_num_threads(), blas.openblas_get_num_threads() if blas is not None else None


def set_cpu_threads(torch, n):
    """torch.set_num_threads, and OpenBLAS's thread count where torch's BLAS is OpenBLAS: n for
    both, or a pair from cpu_threads."""
    torch_n, blas_n = n if isinstance(n, tuple) else (n, n)
    torch.set_num_threads(torch_n)
    blas = _openblas()
    if blas is not None and blas_n is not None:
        blas.openblas_set_num_threads(blas_n)


def time_cpu_best(torch, fn, threads=None, **timing):
    """Times fn on the CPU (time_ms: the median wall-clock ms per call, each sample grown to about
    sample_ms) at each thread count (default cpu_thread_counts()) and returns (median, extra) for
    the fastest count: extra holds its samples, reps, the count ('threads') and every count's
    median ('msByThreads'), ready for emit. The thread counts are put back before it returns."""
    by_threads = {}
    saved = cpu_threads(torch)
    try:
        for t in threads or cpu_thread_counts():
            set_cpu_threads(torch, t)
            by_threads[t] = time_ms(torch, "cpu", fn, **timing)
    finally:
        set_cpu_threads(torch, saved)
    best = min(by_threads, key=lambda t: by_threads[t][0])
    ms, count, reps = by_threads[best]
    extra = {"samples": count, "reps": reps, "threads": best,
             "msByThreads": ", ".join(f"{t}: {v[0]:.3f}" for t, v in by_threads.items())}
    return ms, extra


def run_cases_best(torch, bench, cases, **timing):
    """As run_cases, but each CPU case is timed at every thread count (time_cpu_best) and its row
    is the fastest's. CUDA cases are timed as run_cases times them."""
    failed = 0
    for device, case, nbytes, setup in cases:
        try:
            fn = setup()
            if device == "cpu":
                ms, extra = time_cpu_best(torch, fn, **timing.get(device, {}))
            else:
                ms, count, reps = time_ms(torch, device, fn, **timing.get(device, {}))
                extra = {"samples": count, "reps": reps}
        except (RuntimeError, NotImplementedError) as e:
            failed += 1
            print(f"{bench} peer: {case} on {device}: {e}", file=sys.stderr)
            continue
        emit(torch, bench, device, case, ms, nbytes, **extra)
        del fn
        if device == "cuda":
            torch.cuda.empty_cache()
    if failed:
        sys.exit(1)
