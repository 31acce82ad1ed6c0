"""PyTorch peer of bench/shape.bench.ts: transpose (made contiguous, as hayate's is a copy), cat,
index_select, scatter_add, argmax, a comparison, where, arange and int32 addition at the same shapes and devices.
Prints one JSON row per case in the schema of bench/harness.ts."""
from _common import case_name, devices, require_torch, run_cases

torch = require_torch("shape")
TIMING = {"cuda": {"budget_ms": 300}, "cpu": {"budget_ms": 800}}


def matrix(device):
    return (8192, 8192) if device == "cuda" else (2048, 2048)


def cases():
    for device in devices(torch):
        r, c = matrix(device)
        n, size, picks = r * c, f"{r}x{c}", r // 2

        def with_x(make):
            def setup():
                x = torch.randn((r, c), device=device)
                return make(x)
            return setup

        def cat_halves(x):
            a, b = torch.chunk(x, 2, 0)
            return lambda: torch.cat([a, b], 1)

        def index_select(x):
            idx = torch.randint(r, (picks,), device=device)
            return lambda: torch.index_select(x, 0, idx)

        def scatter_add(x):
            idx = torch.randint(r, (picks, 1), device=device).expand(picks, c)
            src = torch.randn((picks, c), device=device)
            return lambda: torch.scatter_add(x, 0, idx, src)

        def where(x):
            m = x > 0
            return lambda: torch.where(m, x, 0.0)

        rows = [
            ("transpose", 2 * n * 4, with_x(lambda x: (lambda: x.t().contiguous()))),
            ("cat halves", 2 * n * 4, with_x(cat_halves)),
            (f"indexSelect {picks} rows", 2 * picks * c * 4, with_x(index_select)),
            (f"scatterAdd {picks} rows", (n + 2 * picks * c) * 4, with_x(scatter_add)),
            ("argmax dim -1", n * 4 + r * 4, with_x(lambda x: (lambda: torch.argmax(x, -1)))),
            ("gt 0", n * 5, with_x(lambda x: (lambda: x > 0))),
            ("where(x > 0, x, 0)", n * 9, with_x(where)),
        ]
        for label, nbytes, setup in rows:
            yield device, case_name(device, f"{label} {size} float32"), nbytes, setup
        def int_add():
            a = torch.randint(-1000, 1000, (r, c), dtype=torch.int32, device=device)
            b = torch.randint(-1000, 1000, (r, c), dtype=torch.int32, device=device)
            return lambda: a + b

        yield device, case_name(device, f"int32 add {size}"), 3 * n * 4, int_add
        yield device, case_name(device, f"arange {n} int32"), n * 4, lambda: (lambda: torch.arange(n, dtype=torch.int32, device=device))


if __name__ == "__main__":
    run_cases(torch, "shape", cases(), **TIMING)
