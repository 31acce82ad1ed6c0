"""PyTorch peer of bench/copy.bench.ts: host<->device copy bandwidth on the same card.

Prints a JSON array of rows in the schema of bench/harness.ts (bench, case, device, medianMs, gbps,
extra), with the same case names, so the device check can put both figures side by side.

Each case is timed with CUDA events after warm-up; the median of RUNS runs is reported. The end
event is waited on before the next run, so a non_blocking figure counts the copy, not only its
enqueue. As in the hayate benchmark, the output's allocation is inside the timed region (both
libraries serve it from a warm caching allocator) and a non-blocking device-to-host copy lands in
pinned memory.
"""

import json
import statistics

from _common import require_torch_cuda

torch = require_torch_cuda("copy")

MIB = 1024 * 1024
SIZES = [64 * MIB, 1 * MIB]
WARMUP = 5
RUNS = 30


def time_ms(fn):
    """Median milliseconds of fn() over RUNS runs, measured with CUDA events on the current stream."""
    for _ in range(WARMUP):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(RUNS):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        out = fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
        del out
    return statistics.median(times)


def d2h_pinned(src):
    # Explicit pinned destination: what hayate's to('cpu', {nonBlocking: true}) allocates, whatever
    # this PyTorch version's .to(non_blocking=True) picks.
    return torch.empty(src.shape, dtype=src.dtype, pin_memory=True).copy_(src, non_blocking=True)


def cases(nbytes):
    size = f"{nbytes // MIB}MiB"
    pageable = torch.rand(nbytes // 4, dtype=torch.float32)
    pinned = pageable.pin_memory()
    on_device = pageable.to("cuda")
    return [
        (f"h2d {size} pageable blocking", lambda: pageable.to("cuda")),
        (f"h2d {size} pageable nonBlocking", lambda: pageable.to("cuda", non_blocking=True)),
        (f"h2d {size} pinned blocking", lambda: pinned.to("cuda")),
        (f"h2d {size} pinned nonBlocking", lambda: pinned.to("cuda", non_blocking=True)),
        (f"d2h {size} pageable blocking", lambda: on_device.to("cpu")),
        (f"d2h {size} pinned nonBlocking", lambda: d2h_pinned(on_device)),
    ]


def main():
    device = torch.cuda.get_device_name()
    rows = []
    for nbytes in SIZES:
        for name, fn in cases(nbytes):
            median = time_ms(fn)
            rows.append({
                "bench": "copy",
                "case": name,
                "device": device,
                "medianMs": median,
                "gbps": nbytes / (median * 1e-3) / 1e9,
                "extra": {"samples": RUNS, "peer": f"torch {torch.__version__}"},
            })
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
