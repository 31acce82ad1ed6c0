"""PyTorch peer of bench/batchnorm.bench.ts: torch.nn.functional.batch_norm in training mode
(float32 weight, bias and running statistics) forward, and its autograd backward to input, weight
and bias, at the same shapes, dtypes and devices. Prints one JSON row per case in the schema of
bench/harness.ts."""
from _common import case_name, devices, dtypes, require_torch, run_cases

torch = require_torch("batchnorm")
F = torch.nn.functional
TIMING = {"cuda": {"budget_ms": 300}, "cpu": {"budget_ms": 1000}}


def shapes(device):
    return [(64, 32, 26, 26), (32, 256, 56, 56)] if device == "cuda" else [(64, 32, 26, 26)]


def layer(device, dtype, shape, requires_grad):
    c = shape[1]
    x = torch.randn(shape, device=device, dtype=dtype, requires_grad=requires_grad)
    w = torch.ones(c, device=device, requires_grad=requires_grad)
    b = torch.zeros(c, device=device, requires_grad=requires_grad)
    rm, rv = torch.zeros(c, device=device), torch.ones(c, device=device)
    return (x, w, b), lambda: F.batch_norm(x, rm, rv, w, b, training=True)


def forward(device, dtype, shape):
    def setup():
        _, fwd = layer(device, dtype, shape, False)
        return fwd
    return setup


def backward(device, dtype, shape):
    def setup():
        inputs, fwd = layer(device, dtype, shape, True)
        y = fwd()
        g = torch.randn(shape, device=device, dtype=dtype)
        return lambda: torch.autograd.grad(y, inputs, g, retain_graph=True)
    return setup


def cases():
    for device in devices(torch):
        for shape in shapes(device):
            n = 1
            for d in shape:
                n *= d
            for name, dtype in dtypes(torch, device):
                es = torch.tensor([], dtype=dtype).element_size()
                prefix = case_name(device, f"batchNorm train {'x'.join(map(str, shape))} {name}")
                yield device, f"{prefix} forward", 2 * n * es, forward(device, dtype, shape)
                yield device, f"{prefix} backward", 3 * n * es, backward(device, dtype, shape)


if __name__ == "__main__":
    run_cases(torch, "batchnorm", cases(), **TIMING)
