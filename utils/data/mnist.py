"""MNIST and Fashion-MNIST: the legacy `read_mnist` pipeline and the raw arrays.

Data is looked up in `$DATA_PREFIX/<path>` (`path='mnist'` or `'fashion_mnist'`), which must hold the four
original files (the layout the legacy `input_data.read_data_sets` downloaded into). When none of the four is
there, tensorflow-datasets is tried offline-first (see `load_mnist_arrays`). Every problem with the files is a
one-line `UserError` naming the file and saying what to put where.
"""
import collections
import functools
import gzip
import os
import socket
import threading
import zlib

import numpy as np

from utils.plumbing.errors import UserError
from utils.plumbing.paths import data_path, data_prefix

IMAGE_FILES = ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
               't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = IMAGE_FILES
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
IMAGE_SIDE = 28
TFDS_FOLDER = 'tensorflow_datasets'
NETWORK_PROBE_SECONDS = 2.5

Split = collections.namedtuple('Split', ['images', 'labels'])
Split.__doc__ = 'images: float32 [N, 784] in [0, 1]; labels: int64 [N].'
MnistArrays = collections.namedtuple('MnistArrays', ['train', 'validation', 'test', 'full_train'])
MnistArrays.__doc__ = ('The legacy split: train = the last 60000 - validation_size training images, validation = the '
                       'first validation_size, test = the 10000 t10k images; full_train = all 60000 training images '
                       '(train and validation are views into it).')


def _files_hint(folder):
    return 'put the four original files %s in %s' % (', '.join(IMAGE_FILES), folder)


def _read_gzip(path, folder):
    try:
        with gzip.open(path, 'rb') as stream:
            return stream.read()
    except FileNotFoundError:
        raise UserError('%s is missing: %s.' % (path, _files_hint(folder))) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise UserError('%s is not a complete gzip file (%s): replace it with the original download; %s.'
                        % (path, str(error).strip() or type(error).__name__, _files_hint(folder))) from None
    except OSError as error:
        raise UserError('%s cannot be read (%s): %s.' % (path, error.strerror or error, _files_hint(folder))) from None


def _parse_idx(path, folder, magic):
    """The array stored in one gzipped IDX file, checked against its header: magic 2051 (images, 28x28) or
    2049 (labels), and a byte count equal to the header's item count."""
    raw = _read_gzip(path, folder)
    header_size = 16 if magic == IMAGES_MAGIC else 8
    what = 'images' if magic == IMAGES_MAGIC else 'labels'
    if len(raw) < header_size:
        raise UserError('%s is too short to be an IDX %s file (%d bytes): replace it with the original download; '
                        '%s.' % (path, what, len(raw), _files_hint(folder)))
    header = np.frombuffer(raw, dtype='>u4', count=header_size // 4)
    if int(header[0]) != magic:
        raise UserError('%s has IDX magic number %d, not %d (%s): check that the file names are not swapped; %s.'
                        % (path, int(header[0]), magic, what, _files_hint(folder)))
    count = int(header[1])
    shape = (count,)
    if magic == IMAGES_MAGIC:
        rows, cols = int(header[2]), int(header[3])
        if (rows, cols) != (IMAGE_SIDE, IMAGE_SIDE):
            raise UserError('%s holds %dx%d images, not 28x28: %s.' % (path, rows, cols, _files_hint(folder)))
        shape = (count, rows * cols)
    expected = int(np.prod(shape))
    if len(raw) - header_size != expected:
        raise UserError('%s holds %d bytes of data but its header announces %d %s (%d bytes): replace it with the '
                        'original download; %s.' % (path, len(raw) - header_size, count, what, expected,
                                                    _files_hint(folder)))
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _scale(images_uint8):
    """uint8 -> float32 times float32(1/255): the legacy `numpy.multiply(images, 1.0 / 255.0)`."""
    return images_uint8.astype(np.float32) * np.float32(1.0 / 255.0)


def _split(train_images_uint8, train_labels, test_images_uint8, test_labels, validation_size, source, folder):
    if len(train_images_uint8) != len(train_labels) or len(test_images_uint8) != len(test_labels):
        raise UserError('%s: %d training images but %d labels, %d test images but %d labels: replace the files with '
                        'the original downloads; %s.' % (source, len(train_images_uint8), len(train_labels),
                                                         len(test_images_uint8), len(test_labels), _files_hint(folder)))
    if not 0 <= validation_size <= len(train_images_uint8):
        raise UserError('validation_size must be between 0 and %d, not %d.' % (len(train_images_uint8), validation_size))
    full_images = _scale(train_images_uint8)
    full_labels = np.asarray(train_labels, dtype=np.int64)
    test = Split(_scale(test_images_uint8), np.asarray(test_labels, dtype=np.int64))
    for array in (full_images, full_labels, test.images, test.labels):
        array.setflags(write=False)  # the arrays are cached and shared: nobody may change them
    return MnistArrays(train=Split(full_images[validation_size:], full_labels[validation_size:]),
                       validation=Split(full_images[:validation_size], full_labels[:validation_size]),
                       test=test, full_train=Split(full_images, full_labels))


@functools.lru_cache(maxsize=4)
def _load_files(folder, validation_size):
    parsed = {}
    for name in IMAGE_FILES:
        magic = IMAGES_MAGIC if 'images' in name else LABELS_MAGIC
        parsed[name] = _parse_idx(os.path.join(folder, name), folder, magic)
    return _split(parsed[TRAIN_IMAGES], parsed[TRAIN_LABELS], parsed[TEST_IMAGES], parsed[TEST_LABELS],
                  validation_size, folder, folder)


def load_mnist_arrays(path='mnist', validation_size=5000):
    """MNIST (or Fashion-MNIST with `path='fashion_mnist'`) as numpy arrays, split as the legacy
    `input_data.read_data_sets(path)` does: validation = the first 5000 training images, train = the last 55000,
    test = the 10000 t10k images; float32 [N, 784] = uint8 * float32(1/255). Labels are int64 (legacy: uint8).

    Looks in `$DATA_PREFIX/<path>` for the four original files. When none of them is there it falls back to
    tensorflow-datasets (`_load_with_tfds`). Parsed arrays are cached for the process (read-only arrays).
    """
    folder = data_path(path)
    present = [name for name in IMAGE_FILES if os.path.exists(os.path.join(folder, name))]
    if present:
        return _load_files(os.path.realpath(folder), int(validation_size))
    return _load_tfds(os.path.basename(os.path.normpath(path)), folder, data_prefix(), int(validation_size))


# ---------------------------------------------------------------- tensorflow-datasets fallback

def _network_reachable(host, port=443, timeout=NETWORK_PROBE_SECONDS):
    """True when a TCP connection to `host` opens within `timeout` seconds (name lookup included: it runs
    in a daemon thread so that a hanging DNS lookup cannot make us wait)."""
    result = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result)


def tfds_manual_dir(name, prefix=None):
    """The manual folder for tensorflow-datasets: `$DATA_PREFIX/tensorflow_datasets/downloads/manual/<name>`."""
    prefix = data_prefix() if prefix is None else prefix
    return os.path.join(prefix, TFDS_FOLDER, 'downloads', 'manual', name)


@functools.lru_cache(maxsize=4)
def _load_tfds(name, folder, prefix, validation_size):
    """MNIST / Fashion-MNIST through `tfds.load(name, data_dir=$DATA_PREFIX/tensorflow_datasets)`, in order:
    (1) an already prepared copy (`download=False`, ~2 s); (2) preparation from the four original files in
    `tfds_manual_dir(name)` (~15 s, offline); (3) an online download, only when a quick connection probe
    (2.5 s) to the download host succeeds. tfds only has train/test splits: the legacy split (validation = the
    first 5000 of train) is applied to its train split, whose order is tfds's own (it shuffles examples when
    preparing), so the 55000/5000 partition differs from the one made from the original files.
    """
    if name not in ('mnist', 'fashion_mnist'):
        raise UserError('no data in %s: %s.' % (folder, _files_hint(folder)))
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise UserError('no data in %s: %s (tensorflow-datasets is not installed for the fallback).'
                        % (folder, _files_hint(folder))) from None
    data_dir = os.path.join(prefix, TFDS_FOLDER)
    manual_dir = tfds_manual_dir(name, prefix)
    load = functools.partial(tfds.load, name, split=['train', 'test'], data_dir=data_dir, batch_size=-1,
                             as_supervised=True, shuffle_files=False)
    how = None
    from absl import logging as absl_logging
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)  # tfds warns about empty folders while probing: we say it once
    try:
        if tfds.builder(name, data_dir=data_dir).is_prepared():
            how = dict(download=False)
        elif all(os.path.exists(os.path.join(manual_dir, file)) for file in IMAGE_FILES):
            how = dict(download=True, download_and_prepare_kwargs={
                'download_config': tfds.download.DownloadConfig(manual_dir=manual_dir)})
        else:
            host = _download_host(tfds.builder(name, data_dir=data_dir))
            if host and _network_reachable(host):
                how = dict(download=True)
        if how is None:
            raise UserError('no %s data found: %s (or a prepared tensorflow-datasets copy in %s).'
                            % (name, _files_hint(folder), data_dir))
        (train_images, train_labels), (test_images, test_labels) = tfds.as_numpy(load(**how))
    except UserError:
        raise
    except Exception as error:  # tfds raises many types (checksum, permission, network); report one line
        message = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError('tensorflow-datasets could not load %s into %s (%s): %s.'
                        % (name, data_dir, message, _files_hint(folder))) from None
    finally:
        absl_logging.set_verbosity(verbosity)
    flat = lambda images: images.reshape(len(images), IMAGE_SIDE * IMAGE_SIDE)  # noqa: E731
    return _split(flat(train_images), train_labels, flat(test_images), test_labels, validation_size,
                  'tensorflow-datasets %s' % name, folder)


def _download_host(builder):
    url = getattr(builder, 'URL', None) or getattr(type(builder), 'URL', None) or ''
    from urllib.parse import urlparse
    return urlparse(url).hostname


# ---------------------------------------------------------------- the legacy tf.data pipeline

def read_mnist(path='mnist', label=False, binarized=True, batch_sizes=(250, 250), generator=None):
    """The legacy `utils.read_mnist`: (train, test) tf.data.Datasets of the 55000 train and
    10000 test images, `from_tensor_slices(images).batch(b)` in file order (no shuffle, no cache), then
    per-batch stochastic binarisation `cast(x > U[0, 1), float32)`, redrawn on every pass over the data.
    `label=True` yields (images, labels); `binarized=False` yields the intensities.

    Randomness. With `generator=None` each batch draws `tf.random.uniform` (the legacy op; reproducible
    under a global seed only from a fresh process). With a `tf.random.Generator` (checkpoint it with the
    model): at the start of every pass one seed is drawn from the generator, and batch i of that pass uses
    `stateless_uniform(seed=fold_in(pass_seed, i))`. The binarisation of a pass therefore depends only on the
    generator state when the pass starts, not on how far the pass was read, on prefetching or on
    parallelism; a run restored at an epoch boundary redraws exactly what an uninterrupted run would. Each
    pass (train or test) advances the generator by one `make_seeds` call. (Calling the generator directly in
    `Dataset.map` also advances between passes, but prefetching runs ahead within a pass, so the state after an
    interrupted pass would depend on timing: checked with TF 2.21.) tf.data runs on the CPU: on a GPU machine,
    create the generator under `tf.device('/CPU:0')` (not tested on a GPU here).
    """
    import tensorflow as tf

    arrays = load_mnist_arrays(path)
    train_batch, test_batch = (int(size) for size in batch_sizes)
    if train_batch < 1 or test_batch < 1:
        raise UserError('batch sizes must be positive, not %r.' % (tuple(batch_sizes),))
    return (_pipeline(tf, arrays.train, train_batch, label, binarized, generator),
            _pipeline(tf, arrays.test, test_batch, label, binarized, generator))


def read_fashion_mnist(label=False, binarized=True, batch_sizes=(250, 250), generator=None):
    """`read_mnist` on Fashion-MNIST ($DATA_PREFIX/fashion_mnist)."""
    return read_mnist('fashion_mnist', label=label, binarized=binarized, batch_sizes=batch_sizes,
                      generator=generator)


def _binarize(tf, images, seed=None):
    """cast(x > U[0, 1), float32): pixels equal to 0 stay 0, pixels equal to 1 stay 1 (strict >)."""
    if seed is None:
        uniform = tf.random.uniform(tf.shape(images), minval=0.0, maxval=1.0)
    else:
        uniform = tf.random.stateless_uniform(tf.shape(images), seed=seed, minval=0.0, maxval=1.0)
    return tf.cast(images > uniform, tf.float32)


def _pipeline(tf, split, batch_size, label, binarized, generator):
    elements = (split.images, split.labels) if label else split.images
    batches = tf.data.Dataset.from_tensor_slices(elements).batch(batch_size)
    if not binarized:
        return batches.prefetch(tf.data.AUTOTUNE)

    def binarize_element(element, seed=None):
        if label:
            images, labels = element
            return _binarize(tf, images, seed), labels
        return _binarize(tf, element, seed)

    if generator is None:
        return batches.map(lambda *element: binarize_element(element if label else element[0])).prefetch(
            tf.data.AUTOTUNE)

    def one_pass(pass_seed):
        def binarize_batch(index, element):
            return binarize_element(element, tf.random.experimental.stateless_fold_in(pass_seed, index))
        return batches.enumerate().map(binarize_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    pass_seeds = tf.data.Dataset.range(1).map(lambda _: generator.make_seeds(1)[:, 0])
    return pass_seeds.flat_map(one_pass).prefetch(tf.data.AUTOTUNE)
