"""Output paths checked before any work: a run's hours are not spent to find the folder read-only.

Each check really creates (and removes) a file rather than trusting permission bits, which say
yes to root and nothing of read-only or virtual file systems.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from frecore.config import ConfigError


def check_writable_dir(folder: str | os.PathLike, what: str = "folder") -> Path:
    """Create `folder` if missing and prove a file can be written in it; ConfigError otherwise."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {str(path)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(f"{what} {str(path)!r} cannot be written: {exc.strerror or exc}") from None
    return path


def check_writable_file(file: str | os.PathLike, what: str = "file") -> Path:
    """Prove `file` can be written (appending nothing to an existing one); ConfigError otherwise."""
    path = Path(file)
    if path.is_dir():
        raise ConfigError(f"{what} {str(path)!r} is a folder; give a file name")
    existed = path.exists()
    if not existed:
        check_writable_dir(path.parent, what=f"the folder of {what}")
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise ConfigError(f"{what} {str(path)!r} cannot be written: {exc.strerror or exc}") from None
    if not existed:
        path.unlink()
    return path
