"""MNIST and CIFAR-10 through torchvision, held whole on the device as tensors.

Root: the explicit argument, else $FRECORE_DATA, else ./data. Files that are missing are
downloaded by torchvision where allowed; otherwise one `MissingDataError` names the folder,
the files expected and the variable to set. Batches are index permutations of the tensors,
so no per-sample Python runs in the training loop.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision import datasets

from frecore.config import DataConfig

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR10_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                 "test_batch", "batches.meta")
INPUT_SHAPES = {"mnist": ((1, 28, 28), 10), "cifar10": ((3, 32, 32), 10)}  # (one sample's shape, classes)
# The paper's CIFAR-10 normalisation (Appendix D, after Scellier et al. 2023): std is 3x the usual.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = tuple(3 * s for s in (0.2023, 0.1944, 0.2010))


class MissingDataError(FileNotFoundError):
    """The dataset's files are not where we looked and could not be downloaded."""


class DataFileError(MissingDataError):
    """A dataset file is there but damaged (size, magic number, counts, label range): unusable,
    so it is handled like a missing one, with a message that names the file and the problem."""


IDX_MAGIC = {"images": 0x00000803, "labels": 0x00000801}  # IDX: unsigned bytes, 3 or 1 dimensions


def check_mnist_file(path: Path) -> int:
    """Validate one MNIST IDX file (header, magic, dims, size, label range); returns its count."""
    kind = "images" if "images" in path.name else "labels"
    header = 16 if kind == "images" else 8
    size = path.stat().st_size
    if size < header:
        raise DataFileError(f"{path}: {size} bytes, shorter than an IDX {kind} header ({header} bytes); "
                            f"the file is truncated or not MNIST")
    with open(path, "rb") as f:
        head = f.read(header)
        magic, count = int.from_bytes(head[0:4], "big"), int.from_bytes(head[4:8], "big")
        if magic != IDX_MAGIC[kind]:
            raise DataFileError(f"{path}: magic number {magic:#010x}, expected {IDX_MAGIC[kind]:#010x} for "
                                f"IDX {kind} (a gzipped, renamed or foreign file?)")
        item = 1
        if kind == "images":
            rows, cols = int.from_bytes(head[8:12], "big"), int.from_bytes(head[12:16], "big")
            if (rows, cols) != (28, 28):
                raise DataFileError(f"{path}: images of {rows}x{cols} pixels, MNIST's are 28x28")
            item = rows * cols
        if size != header + count * item:
            raise DataFileError(f"{path}: {size} bytes, but its header announces {count} {kind} "
                                f"({header + count * item} bytes): the file is truncated or padded")
        if kind == "labels":
            labels = f.read()
            if labels and max(labels) > 9:
                raise DataFileError(f"{path}: label {max(labels)} found; MNIST labels are 0-9")
    return count


def check_mnist_files(folder: Path) -> None:
    """Every MNIST file valid, and each split with as many labels as images."""
    counts = {f: check_mnist_file(folder / f) for f in MNIST_FILES}
    for split in ("train", "t10k"):
        n_img, n_lab = counts[f"{split}-images-idx3-ubyte"], counts[f"{split}-labels-idx1-ubyte"]
        if n_img != n_lab:
            raise DataFileError(f"{folder / f'{split}-labels-idx1-ubyte'}: {n_lab} labels for {n_img} images "
                                f"in {folder / f'{split}-images-idx3-ubyte'}")


@dataclass
class Split:
    x: torch.Tensor  # (N, features), on the device
    y: torch.Tensor  # (N,) int64 labels

    def __len__(self) -> int:
        return self.y.shape[0]


@dataclass
class Dataset:
    name: str
    train: Split
    test: Split
    input_shape: tuple[int, ...]  # one sample before flattening, e.g. (1, 28, 28)
    n_classes: int = 10

    @property
    def n_in(self) -> int:
        return self.train.x.shape[1]

    def to(self, device: torch.device | str, dtype: torch.dtype) -> "Dataset":
        """A copy with inputs in `dtype` on `device` (labels stay int64)."""
        def move(s: Split) -> Split:
            return Split(s.x.to(device=device, dtype=dtype), s.y.to(device))
        return Dataset(self.name, move(self.train), move(self.test), self.input_shape, self.n_classes)


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The explicit root, else $FRECORE_DATA, else ./data."""
    return Path(root or os.environ.get("FRECORE_DATA") or "data")


def data_available(cfg: DataConfig) -> bool:
    """Whether the dataset's files are on disk under the configured root (no download attempted)."""
    root = data_root(cfg.root)
    folder, files = ((root / "MNIST" / "raw", MNIST_FILES) if cfg.dataset == "mnist"
                     else (root / "cifar-10-batches-py", CIFAR10_FILES))
    return all((folder / f).is_file() for f in files)


def require_data(cfgs, why: str = "download disabled (--no-download)") -> None:
    """Every dataset of these DataConfigs on disk, else one MissingDataError for the first that is
    not: checked before a sweep, so nothing is downloaded or created under a wrong root."""
    for cfg in cfgs:
        if not data_available(cfg):
            root = data_root(cfg.root)
            label, folder, files = (("MNIST", root / "MNIST" / "raw", MNIST_FILES) if cfg.dataset == "mnist"
                                    else ("CIFAR-10", root / "cifar-10-batches-py", CIFAR10_FILES))
            missing = [f for f in files if not (folder / f).is_file()]
            raise _missing(label, folder, files, f"missing {', '.join(missing)}; {why}")


def _missing(name: str, folder: Path, files: tuple[str, ...], why: str) -> MissingDataError:
    why = " ".join(why.split())  # torchvision's messages span lines: the error stays one line
    return MissingDataError(
        f"{name} not found in {str(folder)!r} ({why}). Expected the files: {', '.join(files)}. "
        f"Set FRECORE_DATA (or --data-root) to the folder that holds "
        f"{'MNIST/raw' if name == 'MNIST' else 'cifar-10-batches-py'}, or allow download on a "
        f"machine with network access.")


class _CIFAR10Unverified(datasets.CIFAR10):
    """torchvision's CIFAR-10 reader with the md5 checks off (for locally written fixtures)."""

    train_list = [[f, None] for f, _ in datasets.CIFAR10.train_list]
    test_list = [[f, None] for f, _ in datasets.CIFAR10.test_list]
    meta = {**datasets.CIFAR10.meta, "md5": None}


def _load_torchvision(name: str, root: Path, download: bool, verify: bool):
    if name == "mnist":
        folder, files, cls = root / "MNIST" / "raw", MNIST_FILES, datasets.MNIST
    else:
        folder, files = root / "cifar-10-batches-py", CIFAR10_FILES
        cls = datasets.CIFAR10 if verify else _CIFAR10Unverified
    label = "MNIST" if name == "mnist" else "CIFAR-10"
    if folder.is_dir() and not os.access(folder, os.R_OK | os.X_OK):
        raise DataFileError(f"{folder}: the folder cannot be read (permission denied); make it readable "
                            f"(chmod a+rx) or point FRECORE_DATA / --data-root elsewhere")
    missing = [f for f in files if not (folder / f).is_file()]
    if missing and not download:
        raise _missing(label, folder, files, f"missing {', '.join(missing)}; download disabled")
    # removed again if a download fails
    created = [p for p in (root, folder.parent, folder) if not p.exists()]
    try:
        if name == "mnist" and not missing:
            check_mnist_files(folder)  # torchvision would fail on a damaged file without naming it
        train = cls(root=str(root), train=True, download=bool(missing))
        test = cls(root=str(root), train=False, download=False)
    except PermissionError as exc:
        raise DataFileError(f"{exc.filename or folder}: cannot be read (permission denied); make it readable "
                            f"(chmod a+r) or point FRECORE_DATA / --data-root elsewhere") from None
    except DataFileError:
        raise
    except Exception as exc:  # torchvision raises RuntimeError/URLError/OSError here
        for p in reversed(created):  # a failed download leaves no empty MNIST/raw behind
            try:
                p.rmdir()
            except OSError:
                pass
        raise _missing(label, folder, files, f"{type(exc).__name__}: {exc}") from None
    return train, test


def _to_tensors(name: str, ds) -> tuple[torch.Tensor, torch.Tensor]:
    if name == "mnist":  # pixels / 255, no normalisation (the paper's layered nets)
        x = ds.data.to(torch.float32).div_(255.0).unsqueeze(1)  # (N, 1, 28, 28)
        y = ds.targets.to(torch.int64)
    else:
        x = torch.from_numpy(ds.data).to(torch.float32).div_(255.0).permute(0, 3, 1, 2)  # (N, 3, 32, 32)
        mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
        x = (x - mean) / std
        y = torch.tensor(ds.targets, dtype=torch.int64)
    return x.contiguous(), y


def load_dataset(cfg: DataConfig, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32, verify: bool = True) -> Dataset:
    """Whole train and test splits as flattened tensors on `device`.

    `verify=False` skips torchvision's CIFAR-10 md5 checks (used for test fixtures).
    """
    root = data_root(cfg.root)
    train_ds, test_ds = _load_torchvision(cfg.dataset, root, cfg.download, verify)
    splits = []
    for ds, n in ((train_ds, cfg.train_subset), (test_ds, cfg.test_subset)):
        x, y = _to_tensors(cfg.dataset, ds)
        if n is not None:
            x, y = x[:n], y[:n]
        splits.append(Split(x.flatten(1).to(device=device, dtype=dtype), y.to(device)))
    return Dataset(cfg.dataset, splits[0], splits[1], tuple(x.shape[1:]))


def batch_indices(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A fresh random permutation of range(n), cut into batches (the last may be short)."""
    perm = torch.randperm(n, generator=generator)
    return list(perm.split(batch_size))
