"""Image data: the CIFAR-10 python-format reader (tiny archives the tests write), MNIST shapes, batching."""
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from utils.plumbing.errors import UserError
from utils.data.images import (CIFAR_TEST_FILE, CIFAR_TRAIN_FILES, epoch_batches, load_image_data,
                              num_batches, read_cifar10_archive)

PER_BATCH = 3


def _batch(index, count=PER_BATCH, width=3072):
    rng = np.random.default_rng(index)
    return {b"batch_label": b"batch %d" % index,
            b"data": rng.integers(0, 256, size=(count, width), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, size=count)]}


def _write_cifar(prefix, batches, as_archive=True):
    """The real layout: cifar10/cifar-10-python.tar.gz holding cifar-10-batches-py/<batch> pickles."""
    folder = os.path.join(prefix, "cifar10")
    os.makedirs(folder, exist_ok=True)
    if not as_archive:
        extracted = os.path.join(folder, "cifar-10-batches-py")
        os.makedirs(extracted, exist_ok=True)
        for name, batch in batches.items():
            with open(os.path.join(extracted, name), "wb") as stream:
                pickle.dump(batch, stream)
        return extracted
    path = os.path.join(folder, "cifar-10-python.tar.gz")
    with tarfile.open(path, "w:gz") as archive:
        for name, batch in batches.items():
            raw = pickle.dumps(batch)
            info = tarfile.TarInfo("cifar-10-batches-py/" + name)
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
    return path


def _all_batches():
    batches = {name: _batch(i) for i, name in enumerate(CIFAR_TRAIN_FILES)}
    batches[CIFAR_TEST_FILE] = _batch(99)
    return batches


@pytest.mark.parametrize("as_archive", [True, False])
def test_cifar_reader_decodes_channel_major_rows(tmp_path, monkeypatch, as_archive):
    batches = _all_batches()
    _write_cifar(str(tmp_path), batches, as_archive)
    monkeypatch.setenv("DATA_PREFIX", str(tmp_path))
    data = load_image_data("cifar10")
    assert data.train_images.shape == (5 * PER_BATCH, 32, 32, 3) and data.test_images.shape == (PER_BATCH, 32, 32, 3)
    assert data.train_images.dtype == np.float32
    # pixel (row 5, col 7, channel c) of image 1 of data_batch_2 is byte c*1024 + 5*32 + 7 of its row
    row = batches["data_batch_2"][b"data"][1]
    for channel in range(3):
        assert data.train_images[PER_BATCH + 1, 5, 7, channel] == np.float32(row[channel * 1024 + 5 * 32 + 7]) / 255
    assert list(data.train_labels[:PER_BATCH]) == batches["data_batch_1"][b"labels"]
    assert list(data.test_labels) == batches[CIFAR_TEST_FILE][b"labels"]
    assert data.train_images.max() <= 1.0 and data.train_images.min() >= 0.0


def test_cifar_archive_errors_say_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_PREFIX", str(tmp_path))
    with pytest.raises(UserError, match="CIFAR-10 not found: put cifar-10-python.tar.gz"):
        load_image_data("cifar10")
    batches = _all_batches()
    del batches["data_batch_4"]
    path = _write_cifar(str(tmp_path / "a"), batches)
    with pytest.raises(UserError, match="no cifar-10-batches-py/data_batch_4"):
        read_cifar10_archive(path)
    batches = _all_batches()
    batches["data_batch_3"] = _batch(3, width=1024)
    path = _write_cifar(str(tmp_path / "b"), batches)
    with pytest.raises(UserError, match=r"data_batch_3: b'data' must be uint8 of shape \[n, 3072\]"):
        read_cifar10_archive(path)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not an archive")
    with pytest.raises(UserError, match="not a readable tar.gz"):
        read_cifar10_archive(str(broken))


def test_mnist_is_the_full_train_split_in_unit_range(shared_data_prefix, monkeypatch):
    monkeypatch.setenv("DATA_PREFIX", shared_data_prefix)
    data = load_image_data("mnist")
    assert data.train_images.shape == (60000, 28, 28, 1) and data.test_images.shape == (10000, 28, 28, 1)
    assert data.train_images.min() == 0.0 and data.train_images.max() == 1.0
    assert len(np.unique(data.train_images[:100])) > 2  # gray levels kept, no binarisation
    small = load_image_data("fashion_mnist", subset=50)
    assert small.train_images.shape == (50, 28, 28, 1) and small.test_labels.shape == (50,)


def test_epoch_batches_cover_every_example_once_and_repeat_per_seed():
    images = np.arange(10)
    batches = list(epoch_batches(images, 4, seed=3, epoch=0))
    assert [len(b) for b in batches] == [4, 4, 2] and num_batches(10, 4) == 3  # drop_last=False
    assert sorted(np.concatenate(batches)) == list(range(10))
    again = list(epoch_batches(images, 4, seed=3, epoch=0, start_batch=1))
    assert all((a == b).all() for a, b in zip(again, batches[1:]))  # resuming mid-epoch
    assert not all((a == b).all() for a, b in zip(epoch_batches(images, 4, 3, 1), batches))
    assert len(list(epoch_batches(images, 4, 3, 0, max_batches=2))) == 2
