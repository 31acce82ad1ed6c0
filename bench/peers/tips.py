"""PyTorch peer of bench/tips.ts (`npm run bench:tips`): one epoch of 60,000 samples of the seed's
MNIST network (bench/peers/mnist_train.py's Net; the GELU rows swap F.relu for F.gelu, or for the
composition x * 0.5 * (1 + erf(x / 1.41421))), Adadelta lr 1, batch 64, over the npm package's
8,576 training digits passed over until 60,000 samples have gone through, for each of the seed's
tips alone and all together: DataLoader num_workers (4), pin_memory, cudnn.benchmark, AMP
(autocast + GradScaler), the fused GELU, non_blocking copies, zero_grad(set_to_none=True), and on
CUDA the step captured with torch.cuda.graph and replayed (Adadelta(capturable=True); a partial
batch runs eagerly, as in hayate); where this torch cannot capture, that row is null with a note. Prints one JSON row per tip {bench, case, device,
epochSeconds, samplesPerSecond}, the case names those of bench/tips.ts; `npm run bench:tips --
--peer <file>` puts them beside hayate's. A standalone peer (minutes): bench/peers/all.py leaves it out.
  /usr/bin/python3 bench/peers/tips.py [--samples 60000] [--device cuda] > tips-peer.jsonl
"""
import argparse
import json
import time

from _common import device_label, require_torch
from _mnist import mnist_digits, mnist_net, normalised

torch = require_torch("tips")
F = torch.nn.functional

OFF = dict(workers=False, pin=False, benchmark=False, amp=False, act="relu", non_blocking=False, to_none=False, graph=False)
ALL = dict(workers=True, pin=True, benchmark=True, amp=True, act="gelu", non_blocking=True, to_none=True, graph=False)
ROWS = [
    ("default (every tip off)", OFF),
    ("numWorkers (DataLoader workers)", {**OFF, "workers": True}),
    ("pinMemory", {**OFF, "pin": True}),
    ("autotune (cudnn.benchmark)", {**OFF, "benchmark": True}),
    ("AMP (autocast + GradScaler)", {**OFF, "amp": True}),
    ("GELU unfused (GELU variant)", {**OFF, "act": "gelu_unfused"}),
    ("fused GELU (GELU variant)", {**OFF, "act": "gelu"}),
    ("nonBlocking (with pinMemory)", {**OFF, "pin": True, "non_blocking": True}),
    ("gradients to none", {**OFF, "to_none": True}),
    ("CUDA graph", {**OFF, "graph": True}),
    ("all on (GELU variant, fused)", ALL),
]


def activation(name):
    if name == "relu":
        return F.relu
    if name == "gelu":
        return F.gelu
    return lambda x: x * 0.5 * (1.0 + torch.erf(x / 1.41421))


def run(device, tips, samples, data):
    torch.manual_seed(1)
    torch.backends.cudnn.benchmark = tips["benchmark"]
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True, num_workers=4 if tips["workers"] else 0,
                                         pin_memory=tips["pin"] and device == "cuda", persistent_workers=tips["workers"])
    model = mnist_net(torch, activation(tips["act"])).to(device)
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scaler = torch.cuda.amp.GradScaler(enabled=tips["amp"] and device == "cuda")

    def epoch(limit=None):
        steps, done = 0, 0
        t0 = time.perf_counter()
        for x, y in loader:
            x = x.to(device, non_blocking=tips["non_blocking"])
            y = y.to(device, non_blocking=tips["non_blocking"])
            opt.zero_grad(set_to_none=tips["to_none"])
            with torch.autocast(device_type=device, enabled=tips["amp"] and device == "cuda"):
                loss = F.nll_loss(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            steps += 1
            done += len(y)
            if limit is not None and steps >= limit:
                break
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, done

    epoch(limit=5)
    seconds, done = 0.0, 0
    while done < samples:
        s, k = epoch()
        seconds += s
        done += k
    torch.backends.cudnn.benchmark = False
    return seconds, done


def run_graphed(device, tips, samples, data):
    """The CUDA graph row: warm-up on a side stream, one captured step on static tensors, a replay per batch."""
    torch.manual_seed(1)
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
    model = mnist_net(torch, activation(tips["act"])).to(device)
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0, capturable=True)
    x0, y0 = next(iter(loader))
    static_x, static_y = x0.to(device), y0.to(device)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = F.nll_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step(static_x, static_y)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_loss = F.nll_loss(model(static_x), static_y)
        static_loss.backward()
        opt.step()

    def epoch():
        done = 0
        t0 = time.perf_counter()
        for x, y in loader:
            if len(y) == len(static_y):
                static_x.copy_(x)
                static_y.copy_(y)
                graph.replay()
            else:
                step(x.to(device), y.to(device))
            done += len(y)
        torch.cuda.synchronize()
        return time.perf_counter() - t0, done

    epoch()
    seconds, done = 0.0, 0
    while done < samples:
        s, k = epoch()
        seconds += s
        done += k
    return seconds, done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    images, labels, _ = mnist_digits(torch, train=True)
    data = torch.utils.data.TensorDataset(normalised(torch, images), labels)
    for name, tips in ROWS:
        row = {"bench": "tips", "case": name, "device": device_label(torch, args.device), "epochSeconds": None, "samplesPerSecond": None,
               "peer": f"torch {torch.__version__}"}
        if not tips["graph"]:
            s, k = run(args.device, tips, args.samples, data)
            row.update(epochSeconds=s * 60000 / k, samplesPerSecond=k / s)
        elif args.device == "cuda":
            try:
                s, k = run_graphed(args.device, tips, args.samples, data)
                row.update(epochSeconds=s * 60000 / k, samplesPerSecond=k / s)
            except Exception as e:  # an older torch: no capturable Adadelta, or no graph support
                row.update(note=f"not measured: {type(e).__name__}: {e}"[:200])
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
