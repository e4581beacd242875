"""Shared plumbing. The legacy names `read_mnist` and `obtain_log_path` are available here, as in the
legacy `utils` package; `read_mnist` (which needs TensorFlow) is imported only when first used, so that
`import utils` and `import utils.logger` stay fast."""
from utils.paths import obtain_log_path

_LAZY = {'read_mnist': 'utils.data', 'read_fashion_mnist': 'utils.data', 'load_mnist_arrays': 'utils.data'}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError("module 'utils' has no attribute %r" % name)
