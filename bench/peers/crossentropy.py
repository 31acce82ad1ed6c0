"""PyTorch peer of bench/crossentropy.bench.ts: torch.nn.functional.cross_entropy and nll_loss
(reduction 'mean') forward and autograd backward, at the same shapes, dtypes and devices. PyTorch has
no fused cross-entropy kernel: its cross_entropy runs log_softmax and nll_loss, and its backward both
backward kernels. Prints one JSON row per case in the schema of bench/harness.ts."""
from _common import case_name, devices, dtypes, require_torch, run_cases

torch = require_torch("crossentropy")
F = torch.nn.functional
TIMING = {"cuda": {"budget_ms": 300}, "cpu": {"budget_ms": 1000}}


def shapes(device):
    return [(8192, 4096) if device == "cuda" else (1024, 4096), (64, 10)]


def targets(device, rows, cols):
    # The class indices of bench/crossentropy.bench.ts's targets(): (i * 7919) % cols.
    return (torch.arange(rows, device=device) * 7919).remainder(cols)


def ce_forward(device, dtype, rows, cols):
    def setup():
        x = torch.randn(rows, cols, device=device, dtype=dtype)
        t = targets(device, rows, cols)
        return lambda: F.cross_entropy(x, t)
    return setup


def ce_backward(device, dtype, rows, cols):
    def setup():
        x = torch.randn(rows, cols, device=device, dtype=dtype, requires_grad=True)
        loss = F.cross_entropy(x, targets(device, rows, cols))
        return lambda: torch.autograd.grad(loss, x, retain_graph=True)
    return setup


def nll_forward(device, dtype, rows, cols):
    def setup():
        logp = F.log_softmax(torch.randn(rows, cols, device=device, dtype=dtype), dim=-1)
        t = targets(device, rows, cols)
        return lambda: F.nll_loss(logp, t)
    return setup


def nll_backward(device, dtype, rows, cols):
    def setup():
        logp = F.log_softmax(torch.randn(rows, cols, device=device, dtype=dtype), dim=-1).requires_grad_()
        loss = F.nll_loss(logp, targets(device, rows, cols))
        return lambda: torch.autograd.grad(loss, logp, retain_graph=True)
    return setup


def cases():
    for device in devices(torch):
        for rows, cols in shapes(device):
            for name, dtype in dtypes(torch, device):
                n, es = rows * cols, torch.tensor([], dtype=dtype).element_size()
                shape = f"{rows}x{cols} {name}"
                yield device, case_name(device, f"crossEntropy {shape} forward"), n * es + 4 * rows, ce_forward(device, dtype, rows, cols)
                yield device, case_name(device, f"crossEntropy {shape} backward fused"), 2 * n * es + 4 * rows, ce_backward(device, dtype, rows, cols)
                yield device, case_name(device, f"nllLoss {shape} forward"), rows * (es + 4), nll_forward(device, dtype, rows, cols)
                yield device, case_name(device, f"nllLoss {shape} backward"), n * es + 4 * rows, nll_backward(device, dtype, rows, cols)


if __name__ == "__main__":
    run_cases(torch, "crossentropy", cases(), **TIMING)
