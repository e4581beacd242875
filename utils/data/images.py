"""Image data for Soft-IntroVAE (athaioan/intro_prior images/dataset/dataset.py): MNIST, Fashion-MNIST, CIFAR-10.

As torchvision's `ToTensor()` gives them: pixels in [0, 1], no normalisation, no augmentation, no
binarisation; arrays NHWC float32. Train split for training, test split for the ELBO / classification.
Batches: reshuffled every epoch (`DataLoader(shuffle=True, drop_last=False)`, `TI:109-110`), with a
permutation that depends only on (seed, epoch), so a resumed run sees the same batches.
"""
import collections
import os
import pickle
import tarfile

import numpy as np

from utils.plumbing.errors import UserError
from utils.plumbing.paths import data_path

ImageData = collections.namedtuple("ImageData", "train_images train_labels test_images test_labels")

CIFAR_FOLDER = "cifar10"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_BATCHES = "cifar-10-batches-py"
CIFAR_TRAIN_FILES = tuple("data_batch_%d" % i for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
TFDS_FOLDER = "tensorflow_datasets"


def _mnist_like(name):
    """The full 60000-image train split and the 10000 test images of utils.data.mnist, as [N,28,28,1] in [0, 1]."""
    from utils.data.mnist import load_mnist_arrays
    arrays = load_mnist_arrays(name)

    def images(split):
        return np.asarray(split.images, dtype=np.float32).reshape(-1, 28, 28, 1)
    return ImageData(images(arrays.full_train), np.asarray(arrays.full_train.labels, np.int64),
                     images(arrays.test), np.asarray(arrays.test.labels, np.int64))


def _cifar_batch(raw, what):
    """(images [n,32,32,3] uint8, labels [n]) from one pickled python-format batch, checked."""
    try:
        batch = pickle.loads(raw, encoding="bytes")
    except Exception as error:
        raise UserError("%s is not a CIFAR-10 python batch (%s): re-extract %s from %s."
                        % (what, type(error).__name__, CIFAR_ARCHIVE, CIFAR_URL))
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise UserError("%s lacks the b'data' / b'labels' entries of a CIFAR-10 python batch: use the "
                        "original %s from %s." % (what, CIFAR_ARCHIVE, CIFAR_URL))
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise UserError("%s: b'data' must be uint8 of shape [n, 3072], found %s %s: use the original %s."
                        % (what, data.dtype, list(data.shape), CIFAR_ARCHIVE))
    if labels.shape != (data.shape[0],) or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise UserError("%s: b'labels' must be %d labels in 0..9, found shape %s: use the original %s."
                        % (what, data.shape[0], list(labels.shape), CIFAR_ARCHIVE))
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channel-major rows -> NHWC
    return images, labels.astype(np.int64)


def _cifar_from_reader(read, where):
    """Read the 5 train batches and the test batch with `read(file_name) -> bytes or None`."""
    parts = {}
    for name in CIFAR_TRAIN_FILES + (CIFAR_TEST_FILE,):
        raw = read(name)
        if raw is None:
            raise UserError("%s has no %s/%s: the CIFAR-10 python archive is incomplete; download %s again."
                            % (where, CIFAR_BATCHES, name, CIFAR_URL))
        parts[name] = _cifar_batch(raw, "%s/%s/%s" % (where, CIFAR_BATCHES, name))
    train_x = np.concatenate([parts[name][0] for name in CIFAR_TRAIN_FILES])
    train_y = np.concatenate([parts[name][1] for name in CIFAR_TRAIN_FILES])
    test_x, test_y = parts[CIFAR_TEST_FILE]
    return ImageData(train_x.astype(np.float32) / 255.0, train_y, test_x.astype(np.float32) / 255.0, test_y)


def read_cifar10_folder(folder):
    """CIFAR-10 from an extracted `cifar-10-batches-py/` folder."""
    def read(name):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as stream:
            return stream.read()
    return _cifar_from_reader(read, os.path.dirname(os.path.abspath(folder)))


def read_cifar10_archive(path):
    """CIFAR-10 from the original `cifar-10-python.tar.gz` (members `cifar-10-batches-py/<batch>`)."""
    try:
        archive = tarfile.open(path, "r:gz")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise UserError("%s is not a readable tar.gz archive (%s): download %s again."
                        % (path, str(error).splitlines()[0] if str(error) else type(error).__name__, CIFAR_URL))
    with archive:
        members = {member.name[2:] if member.name.startswith("./") else member.name: member for member in archive.getmembers() if member.isfile()}

        def read(name):
            member = members.get("%s/%s" % (CIFAR_BATCHES, name))
            return None if member is None else archive.extractfile(member).read()
        return _cifar_from_reader(read, path)


def _cifar10_tfds(data_dir):
    """CIFAR-10 prepared by tensorflow-datasets in `data_dir` (never downloads: download=False)."""
    import tensorflow_datasets as tfds
    try:
        splits = tfds.load("cifar10", data_dir=data_dir, download=False, batch_size=-1, as_supervised=True)
    except Exception as error:
        raise UserError("tensorflow-datasets could not load cifar10 from %s (%s): put %s (from %s) in %s "
                        "instead." % (data_dir, str(error).splitlines()[0], CIFAR_ARCHIVE, CIFAR_URL,
                                      data_path(CIFAR_FOLDER)))
    (train_x, train_y), (test_x, test_y) = tfds.as_numpy(splits["train"]), tfds.as_numpy(splits["test"])
    return ImageData(train_x.astype(np.float32) / 255.0, train_y.astype(np.int64),
                     test_x.astype(np.float32) / 255.0, test_y.astype(np.int64))


def load_cifar10():
    """CIFAR-10 from $DATA_PREFIX/cifar10/: the extracted `cifar-10-batches-py/`, else the archive
    `cifar-10-python.tar.gz`, else a tensorflow-datasets copy in $DATA_PREFIX/tensorflow_datasets/cifar10."""
    folder = data_path(CIFAR_FOLDER)
    extracted = os.path.join(folder, CIFAR_BATCHES)
    if os.path.isdir(extracted):
        return read_cifar10_folder(extracted)
    archive = os.path.join(folder, CIFAR_ARCHIVE)
    if os.path.isfile(archive):
        return read_cifar10_archive(archive)
    tfds_dir = data_path(TFDS_FOLDER)
    if os.path.isdir(os.path.join(tfds_dir, "cifar10")):
        return _cifar10_tfds(tfds_dir)
    raise UserError("CIFAR-10 not found: put %s (from %s) or its extracted %s/ in %s."
                    % (CIFAR_ARCHIVE, CIFAR_URL, CIFAR_BATCHES, folder))


def load_image_data(dataset, subset=None):
    """ImageData for 'mnist', 'fashion_mnist' or 'cifar10'; `subset` keeps the first n train and test images."""
    if dataset in ("mnist", "fashion_mnist"):
        data = _mnist_like(dataset)
    elif dataset == "cifar10":
        data = load_cifar10()
    else:
        raise UserError("unknown image data set %r: use mnist, fashion_mnist or cifar10." % dataset)
    if subset:
        data = ImageData(*(array[:subset] for array in data))
    return data


def epoch_permutation(num_examples, seed, epoch):
    """The example order of one epoch: a function of (seed, epoch) only, so resuming repeats it."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(num_examples)


def num_batches(num_examples, batch_size):
    """Batches per epoch with drop_last=False."""
    return -(-num_examples // batch_size)


def epoch_batches(images, batch_size, seed, epoch, start_batch=0, max_batches=None):
    """Yield the shuffled batches of one epoch (the last one may be smaller), from `start_batch` on."""
    order = epoch_permutation(len(images), seed, epoch)
    total = num_batches(len(images), batch_size)
    if max_batches is not None:
        total = min(total, max_batches)
    for index in range(start_batch, total):
        yield images[order[index * batch_size:(index + 1) * batch_size]]

