import pickle

import numpy as np
import pytest
import torch

from frecore.config import DataConfig
from frecore.training.data import (CIFAR10_MEAN, CIFAR10_STD, MissingDataError, batch_indices, data_root,
                                   load_dataset)


def test_mnist_whole_splits_as_tensors(mnist_root):
    d = load_dataset(DataConfig(root=mnist_root, download=False))
    assert d.train.x.shape == (60000, 784) and d.test.x.shape == (10000, 784)
    assert d.train.x.dtype == torch.float32 and d.train.y.dtype == torch.int64
    assert float(d.train.x.min()) == 0.0 and float(d.train.x.max()) == 1.0  # pixels / 255
    assert sorted(d.train.y.unique().tolist()) == list(range(10))
    assert d.input_shape == (1, 28, 28) and d.n_in == 784


def test_mnist_subset_and_dtype(mnist_root):
    d = load_dataset(DataConfig(root=mnist_root, download=False, train_subset=100, test_subset=50),
                     dtype=torch.float64)
    assert len(d.train) == 100 and len(d.test) == 50 and d.train.x.dtype == torch.float64


def test_missing_data_names_folder_files_and_variable(tmp_path):
    with pytest.raises(MissingDataError) as e:
        load_dataset(DataConfig(root=str(tmp_path), download=False))
    msg = str(e.value)
    assert str(tmp_path / "MNIST" / "raw") in msg
    assert "train-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte" in msg
    assert "FRECORE_DATA" in msg


def test_root_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FRECORE_DATA", str(tmp_path))
    assert data_root() == tmp_path
    assert data_root("elsewhere").name == "elsewhere"
    monkeypatch.delenv("FRECORE_DATA")
    assert str(data_root()) == "data"


def _write_cifar10_fixture(root, n_per_batch=4, seed=0):
    """A tiny CIFAR-10 in its own on-disk format: pickled dicts in cifar-10-batches-py/."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                 "test_batch"]:
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n_per_batch).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": data, "labels": labels, "filenames": []}, f)
        batches[name] = (data, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": n_per_batch}, f)
    return batches


def test_cifar10_through_torchvision_with_the_papers_normalisation(tmp_path):
    batches = _write_cifar10_fixture(tmp_path)
    d = load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path), download=False), verify=False)
    assert d.train.x.shape == (20, 3072) and d.test.x.shape == (4, 3072) and d.input_shape == (3, 32, 32)
    raw, labels = batches["test_batch"]
    expect = (torch.tensor(raw, dtype=torch.float32).view(4, 3, 32, 32) / 255
              - torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)) / torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(d.test.x, expect.flatten(1))
    assert d.test.y.tolist() == labels
    assert CIFAR10_STD[0] == pytest.approx(3 * 0.2023)


def test_cifar10_md5_check_is_on_by_default(tmp_path):
    _write_cifar10_fixture(tmp_path)  # the fixture cannot match the real checksums
    with pytest.raises(MissingDataError, match="cifar-10-batches-py"):
        load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path), download=False))


def test_batches_are_a_seeded_permutation():
    a = batch_indices(103, 20, torch.Generator().manual_seed(5))
    b = batch_indices(103, 20, torch.Generator().manual_seed(5))
    assert [len(x) for x in a] == [20, 20, 20, 20, 20, 3]
    assert sorted(torch.cat(a).tolist()) == list(range(103))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
