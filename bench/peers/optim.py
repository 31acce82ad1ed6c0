"""PyTorch peer of bench/optim.bench.ts: optimizer steps over ResNet-50's parameter set (161
tensors, 25,557,032 float32 parameters, gradients set), torch.optim's SGD (momentum 0.9), AdamW,
Adadelta with foreach=True ('fused' rows on the CPU: torch 1.13 has no fused CPU kernels, its
multi-tensor path is the foreach one), foreach=False (the 'per-tensor elementwise loop' rows) and,
on CUDA, AdamW(fused=True) for the 'fused' row; GradScaler's unscale + inf check on CUDA
(torch._amp_foreach_non_finite_check_and_unscale_). CPU rows are timed at 1, 2 and the machine's
cores threads and the best reported.
  /usr/bin/python3 bench/peers/optim.py
"""
from _common import case_name, devices, emit, require_torch, time_cpu_best, time_ms

torch = require_torch("optim")


def resnet50_shapes():
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    in_c = 64
    for width, blocks in [(64, 3), (128, 4), (256, 6), (512, 3)]:
        for b in range(blocks):
            shapes += [(width, in_c, 1, 1), (width,), (width,), (width, width, 3, 3), (width,), (width,), (width * 4, width, 1, 1), (width * 4,), (width * 4,)]
            if b == 0:
                shapes += [(width * 4, in_c, 1, 1), (width * 4,), (width * 4,)]
            in_c = width * 4
    shapes += [(1000, 2048), (1000,)]
    return shapes


SHAPES = resnet50_shapes()
TOTAL = sum(torch.Size(s).numel() for s in SHAPES)


def params(device):
    g = torch.Generator().manual_seed(0)
    ps = []
    for s in SHAPES:
        p = torch.randn(s, generator=g).to(device).requires_grad_()
        p.grad = torch.randn(s, generator=g).to(device)
        ps.append(p)
    return ps


def step_case(device, make):
    ps = params(device)
    opt = make(ps)
    opt.step()  # state allocated before timing
    return opt.step


CASES = [
    ("sgd momentum", 5, lambda foreach: (lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9, foreach=foreach))),
    ("adamw", 7, lambda foreach: (lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=foreach))),
    ("adadelta", 7, lambda foreach: (lambda ps: torch.optim.Adadelta(ps, foreach=foreach))),
]


def timed(device, fn):
    if device == "cpu":
        return time_cpu_best(torch, fn, samples=7, min_samples=3, sample_ms=0, budget_ms=3000)
    ms, count, reps = time_ms(torch, device, fn, samples=11, budget_ms=400)
    return ms, {"samples": count, "reps": reps}


for device in devices(torch):
    def ceiling():
        x = torch.randn(TOTAL, device=device)
        return lambda: x.mul_(1.0)

    rows = [("resnet50 params scale in place (ceiling)", 2, ceiling)]
    for name, arrays, make in CASES:
        if device == "cuda" and name == "adamw":
            rows.append((f"resnet50 params {name} fused", arrays, lambda: step_case(device, lambda ps: torch.optim.AdamW(ps, lr=1e-3, fused=True))))
        else:
            rows.append((f"resnet50 params {name} fused", arrays, (lambda m: lambda: step_case(device, m(True)))(make)))
        rows.append((f"resnet50 params {name} per-tensor elementwise loop", arrays, (lambda m: lambda: step_case(device, m(False)))(make)))
    if device == "cuda":
        def unscale():
            grads = [p.grad for p in params(device)]
            found = torch.zeros(1, device=device)
            inv = torch.ones(1, device=device)
            return lambda: torch._amp_foreach_non_finite_check_and_unscale_(grads, found, inv)

        rows.append(("resnet50 params GradScaler unscale + inf check", 2, unscale))
    for case, arrays, setup in rows:
        fn = setup()
        result = timed(device, fn)
        ms, extra = result[0], result[1] if isinstance(result[1], dict) else {}
        emit(torch, "optim", device, case_name(device, case), ms, nbytes=arrays * 4 * TOTAL, **extra)
        del fn
