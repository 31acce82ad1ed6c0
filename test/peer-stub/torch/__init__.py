"""A stand-in for torch so that test/compare.test.ts can run the real bench/peers/*.py without a GPU
and check the rows they print. Every tensor operation returns a placeholder, every CUDA event pair
measures 25 ms and the card is STUB_DEVICE: the figures mean nothing, the printed format is the
peers' own. Put this folder first on PYTHONPATH to use it."""

__version__ = "0.0+stub"
STUB_DEVICE = "Stub GPU (test/peer-stub)"


class _Any:
    """Any tensor, dtype, function or namespace: attributes, calls and arithmetic give another one."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Any()

    def __call__(self, *args, **kwargs):
        return _Any()

    def numel(self):
        return 6_000_000

    def element_size(self):
        return 4

    def elapsed_time(self, other):
        return 25.0

    def _op(self, *other):
        return _Any()

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _op


class _Cuda(_Any):
    def is_available(self):
        return True

    def get_device_name(self, *args):
        return STUB_DEVICE


cuda = _Cuda()
float32 = _Any()
float16 = _Any()
backends = _Any()
nn = _Any()
ops = _Any()


def __getattr__(name):
    # torch.randn, torch.empty, torch.matmul, ...
    if name.startswith("__"):
        raise AttributeError(name)
    return _Any()
