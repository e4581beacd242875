import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.abspath(os.path.join(REPO_ROOT, "..", "shared", "data"))


@pytest.fixture
def shared_data_prefix():
    """The read-only official MNIST / Fashion-MNIST files (../shared/data, or $DATA_PREFIX when set)."""
    prefix = os.path.abspath(os.environ.get("DATA_PREFIX") or SHARED_DATA)  # tests may change the working folder
    if not os.path.exists(os.path.join(prefix, "mnist", "train-images-idx3-ubyte.gz")):
        pytest.skip("real MNIST files not found under %s" % prefix)
    return prefix


@pytest.fixture
def eager_functions():
    """Run the model's tf.functions eagerly: the same code, without the ~30 s graph build of a smoke test."""
    import tensorflow as tf
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)
