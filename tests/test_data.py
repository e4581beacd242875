"""MNIST / Fashion-MNIST loading and the legacy read_mnist pipeline (spec lagvae_legacy.md 1.2, 5.A.5), on the
real files; broken copies for the one-line errors; the tensorflow-datasets fallback without network."""
import gzip
import os
import time

import numpy as np
import pytest
import tensorflow as tf

from utils.data import mnist as data
from utils.plumbing.errors import UserError


def parse_idx_independently(path, header_bytes):
    with gzip.open(path, 'rb') as stream:
        return np.frombuffer(stream.read(), dtype=np.uint8, offset=header_bytes)


@pytest.fixture
def mnist_prefix(shared_data_prefix, monkeypatch):
    monkeypatch.setenv('DATA_PREFIX', shared_data_prefix)
    return shared_data_prefix


@pytest.fixture
def offline(monkeypatch):
    """No test may reach the network: the connectivity probe always fails."""
    monkeypatch.setattr(data, '_network_reachable', lambda *args, **kwargs: False)


def test_arrays_legacy_split_and_scaling(mnist_prefix):
    arrays = data.load_mnist_arrays()
    folder = os.path.join(mnist_prefix, 'mnist')
    raw_train = parse_idx_independently(os.path.join(folder, 'train-images-idx3-ubyte.gz'), 16).reshape(60000, 784)
    raw_labels = parse_idx_independently(os.path.join(folder, 'train-labels-idx1-ubyte.gz'), 8)
    raw_test = parse_idx_independently(os.path.join(folder, 't10k-images-idx3-ubyte.gz'), 16).reshape(10000, 784)
    scale = np.float32(1.0) / np.float32(255.0)
    assert arrays.train.images.shape == (55000, 784) and arrays.train.images.dtype == np.float32
    assert arrays.validation.images.shape == (5000, 784) and arrays.test.images.shape == (10000, 784)
    assert arrays.full_train.images.shape == (60000, 784)
    # train = the LAST 55000, validation = the FIRST 5000 (input_data.read_data_sets defaults).
    np.testing.assert_array_equal(arrays.train.images, raw_train[5000:].astype(np.float32) * scale)
    np.testing.assert_array_equal(arrays.validation.images, raw_train[:5000].astype(np.float32) * scale)
    np.testing.assert_array_equal(arrays.test.images, raw_test.astype(np.float32) * scale)
    np.testing.assert_array_equal(arrays.train.labels, raw_labels[5000:])
    assert arrays.train.labels[:5].tolist() == [7, 3, 4, 6, 1]  # training labels 5000..5004
    assert arrays.full_train.labels[:5].tolist() == [5, 0, 4, 1, 9]
    # The legacy multiply by float32(1/255) is not always the division by 255 (it can differ by one ulp).
    assert np.float32(1.0 / 255.0) == scale
    assert arrays.train.images.max() == 1.0 and arrays.train.images.min() == 0.0
    assert abs(float(arrays.train.images.mean(dtype=np.float64)) - 0.1307) < 5e-4
    # Cached: the second call returns the same (read-only) arrays at once.
    started = time.perf_counter()
    assert data.load_mnist_arrays() is arrays
    assert time.perf_counter() - started < 0.01
    assert not arrays.train.images.flags.writeable


def test_fashion_mnist_loads(mnist_prefix):
    arrays = data.load_mnist_arrays('fashion_mnist')
    assert arrays.train.images.shape == (55000, 784) and arrays.test.images.shape == (10000, 784)
    assert arrays.full_train.labels[:5].tolist() == [9, 0, 0, 3, 0]  # ankle boot, T-shirt, T-shirt, dress, T-shirt
    assert np.bincount(arrays.full_train.labels).tolist() == [6000] * 10
    train, test = data.read_fashion_mnist(batch_sizes=(1000, 1000))
    assert [batch.shape[0] for batch in test] == [1000] * 10


def test_read_mnist_legacy_pipeline(mnist_prefix):
    generator = tf.random.Generator.from_seed(1234)
    train, test = data.read_mnist(generator=generator)
    arrays = data.load_mnist_arrays()
    first = [batch.numpy() for batch in train]
    assert len(first) == 220 and all(batch.shape == (250, 784) for batch in first)
    assert len([batch for batch in test]) == 40
    stacked = np.concatenate(first)
    assert set(np.unique(stacked).tolist()) == {0.0, 1.0}
    # Strict x > U[0,1): intensity 0 is always 0, intensity 1 is always 1; the mean is the mean intensity.
    assert stacked[arrays.train.images == 0.0].max() == 0.0
    assert stacked[arrays.train.images == 1.0].min() == 1.0
    assert abs(stacked.mean() - 0.1307) < 1e-3
    # Fixed order (no shuffle): each binarised batch follows its own images (P(bit) = intensity).
    per_image = stacked.mean(axis=1) - arrays.train.images.mean(axis=1)
    assert np.abs(per_image).max() < 0.1
    # A new pass redraws the binarisation: two independent draws of a pixel differ with probability
    # 2 p (1 - p), p its intensity (0.0380 for the first batch).
    second = np.concatenate([batch.numpy() for batch in train])
    intensities = arrays.train.images.astype(np.float64)
    expected = np.mean(2 * intensities * (1 - intensities))
    assert abs(np.mean(stacked != second) - expected) < 5e-4


def test_binarisation_is_resumable(mnist_prefix, tmp_path):
    generator = tf.random.Generator.from_seed(7)
    train, _ = data.read_mnist(generator=generator)
    checkpoint = tf.train.Checkpoint(generator=generator)
    [batch for batch in train]  # epoch 1
    saved = checkpoint.save(str(tmp_path / 'ckpt'))  # checkpoint at the epoch boundary
    uninterrupted = [batch.numpy() for batch in train]  # epoch 2 of an uninterrupted run
    state_after_full_pass = generator.state.numpy().copy()
    # An interrupted run: restored at the boundary, epoch 2 read for 3 batches only (prefetch ran ahead).
    checkpoint.restore(saved)
    for index, batch in enumerate(train):
        np.testing.assert_array_equal(batch.numpy(), uninterrupted[index])
        if index == 2:
            break
    # The state depends only on the passes started, not on how far they were read or prefetched.
    np.testing.assert_array_equal(generator.state.numpy(), state_after_full_pass)
    # Resumed from the checkpoint (as a new process would): epoch 2 is drawn again exactly.
    checkpoint.restore(saved)
    resumed = [batch.numpy() for batch in train]
    assert len(resumed) == 220
    for a, b in zip(resumed, uninterrupted):
        np.testing.assert_array_equal(a, b)
    # Another generator with the same seed in another pipeline: pass 1 is epoch 1, not epoch 2...
    other = tf.random.Generator.from_seed(7)
    other_train, _ = data.read_mnist(generator=other)
    assert not np.array_equal(next(iter(other_train)).numpy(), resumed[0])
    tf.train.Checkpoint(generator=other).restore(saved)  # ...and after restoring, epoch 2 again
    np.testing.assert_array_equal(next(iter(other_train)).numpy(), resumed[0])


def test_labels_and_intensities(mnist_prefix):
    arrays = data.load_mnist_arrays()
    train, test = data.read_mnist(label=True, binarized=False, batch_sizes=(5000, 2500))
    images, labels = next(iter(train))
    np.testing.assert_array_equal(images.numpy(), arrays.train.images[:5000])
    np.testing.assert_array_equal(labels.numpy(), arrays.train.labels[:5000])
    assert [batch[0].shape[0] for batch in test] == [2500] * 4
    binary_train, _ = data.read_mnist(label=True, batch_sizes=(300, 300))  # legacy tf.random.uniform branch
    batches = list(binary_train)
    assert len(batches) == 184 and batches[-1][0].shape == (100, 784)  # 55000 = 183 x 300 + 100
    np.testing.assert_array_equal(batches[0][1].numpy(), arrays.train.labels[:300])
    assert set(np.unique(batches[0][0].numpy()).tolist()) <= {0.0, 1.0}


def test_utils_reexports_legacy_names(mnist_prefix, monkeypatch, tmp_path):
    import utils
    assert utils.read_mnist is data.read_mnist
    monkeypatch.setenv('EXP_LOG_PATH', str(tmp_path))
    assert utils.obtain_log_path('lvae/v1/64/1.0-86.0-5.0/') == str(tmp_path) + '/lvae/v1/64/1.0-86.0-5.0/'


# ---------------------------------------------------------------- errors

def make_copy(source_folder, target_folder, replace=None):
    """A copy of the four files (links), with `replace` = {file name: bytes to write instead}."""
    source_folder = os.path.abspath(source_folder)
    os.makedirs(target_folder)
    for name in data.IMAGE_FILES:
        target = os.path.join(target_folder, name)
        if replace and name in replace:
            if replace[name] is not None:
                with open(target, 'wb') as stream:
                    stream.write(replace[name])
        else:
            os.symlink(os.path.join(source_folder, name), target)


def labels_file(magic, count, payload):
    header = np.array([magic, count], dtype='>u4').tobytes()
    return gzip.compress(header + bytes(payload))


@pytest.mark.parametrize('case, file_name, fragment', [
    ('missing', 't10k-labels-idx1-ubyte.gz', 'is missing'),
    ('truncated', 'train-images-idx3-ubyte.gz', 'not a complete gzip file'),
    ('not gzip', 'train-labels-idx1-ubyte.gz', 'not a complete gzip file'),
    ('wrong magic', 't10k-labels-idx1-ubyte.gz', 'magic number 2051, not 2049'),
    ('short data', 't10k-labels-idx1-ubyte.gz', 'holds 9999 bytes of data but its header announces 10000 labels'),
    ('count mismatch', 't10k-labels-idx1-ubyte.gz', '10000 test images but 9999 labels'),
])
def test_broken_files_give_one_line_errors(shared_data_prefix, tmp_path, monkeypatch, case, file_name, fragment):
    source = os.path.join(shared_data_prefix, 'mnist')
    with open(os.path.join(source, file_name), 'rb') as stream:
        original = stream.read()
    replacement = {
        'missing': None,
        'truncated': original[:len(original) // 2],
        'not gzip': b'<html>404 not found</html>',
        'wrong magic': labels_file(2051, 10000, [0] * 10000),
        'short data': labels_file(2049, 10000, [0] * 9999),
        'count mismatch': labels_file(2049, 9999, [0] * 9999),
    }[case]
    make_copy(source, str(tmp_path / 'mnist'), {file_name: replacement})
    monkeypatch.setenv('DATA_PREFIX', str(tmp_path))
    with pytest.raises(UserError) as caught:
        data.load_mnist_arrays()
    message = str(caught.value)
    assert '\n' not in message and fragment in message
    assert os.path.join(str(tmp_path / 'mnist'), file_name) in message or case == 'count mismatch'
    assert all(name in message for name in data.IMAGE_FILES) and str(tmp_path / 'mnist') in message


def test_unset_data_prefix(monkeypatch):
    monkeypatch.delenv('DATA_PREFIX', raising=False)
    with pytest.raises(UserError, match='^DATA_PREFIX is not set'):
        data.load_mnist_arrays()


def test_tfds_fallback_fails_fast_without_data_or_network(tmp_path, monkeypatch, offline):
    monkeypatch.setenv('DATA_PREFIX', str(tmp_path))
    started = time.perf_counter()
    with pytest.raises(UserError) as caught:
        data.load_mnist_arrays('fashion_mnist')
    assert time.perf_counter() - started < 30  # tfds alone would retry the network for ~3.5 minutes
    message = str(caught.value)
    assert '\n' not in message and message.startswith('no fashion_mnist data found')
    assert all(name in message for name in data.IMAGE_FILES)
    assert str(tmp_path / 'fashion_mnist') in message and str(tmp_path / 'tensorflow_datasets') in message
    assert os.listdir(tmp_path) == []  # nothing created


@pytest.mark.slow
def test_tfds_fallback_prepares_from_manual_folder(shared_data_prefix, tmp_path, monkeypatch, offline):
    manual = data.tfds_manual_dir('mnist', str(tmp_path))
    make_copy(os.path.join(shared_data_prefix, 'mnist'), manual)
    monkeypatch.setenv('DATA_PREFIX', str(tmp_path))
    arrays = data.load_mnist_arrays()  # no $DATA_PREFIX/mnist: tfds prepares from the manual folder
    assert os.path.isdir(tmp_path / 'tensorflow_datasets' / 'mnist')
    assert arrays.train.images.shape == (55000, 784) and arrays.validation.images.shape == (5000, 784)
    reference = data._load_files(os.path.realpath(os.path.join(shared_data_prefix, 'mnist')), 5000)
    # tfds shuffles examples when preparing: the same images and labels, in another order.
    key = lambda split: sorted(zip(split.labels.tolist(), (hash(row.tobytes()) for row in split.images)))  # noqa: E731
    assert key(arrays.test) == key(reference.test)
    assert key(arrays.full_train) == key(reference.full_train)
    assert np.float32(arrays.test.images.max()) == 1.0
