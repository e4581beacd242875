"""Library code of the commands, grouped by job: data/, metrics/, figures/, legacy/ (readers of legacy
runs), plumbing/ (one run's life), training/ (the three training loops) and sweeps/. The legacy names
`read_mnist` and `obtain_log_path` are available here, as in the legacy `utils` package; `read_mnist` (which
needs TensorFlow) is imported only when first used, so that `import utils` and `import utils.plumbing.logger`
stay fast."""
from utils.plumbing.paths import obtain_log_path

_LAZY = {'read_mnist': 'utils.data.mnist', 'read_fashion_mnist': 'utils.data.mnist',
         'load_mnist_arrays': 'utils.data.mnist'}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError("module 'utils' has no attribute %r" % name)
