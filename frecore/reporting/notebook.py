"""Run a notebook headlessly (`frecore notebook`: papermill, bad input in one line), and strip what
changes between two executions of a notebook that change no number, so that the executed copy
`make <experiment>` keeps under results/ is byte-identical when the results are.

Removed: papermill's timings (per notebook and per cell), the kernel's execution timestamps,
execution counts, the random id papermill gives its injected-parameters cell, and the progress lines the sweep
streams to the terminal (PROGRESS_PREFIX). The
checkout's absolute path (where the results folder, the venv and tracebacks live) is written
relative to it, so two clones in different folders produce the same file. Everything else (the
parameters, every output the notebook computed) is kept.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from frecore.config import ConfigError

PROGRESS_PREFIX = "[progress] "  # lines of the sweep's plain progress (frecore.sweeps.progress)
VOLATILE_PAPERMILL = ("start_time", "end_time", "duration", "exception", "status")


def _relative(value: Any, root: str) -> Any:
    """Every string with the checkout's absolute path written relative to it."""
    if isinstance(value, str):
        return value.replace(root + os.sep, "").replace(root, ".")
    if isinstance(value, list):
        return [_relative(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _relative(v, root) for k, v in value.items()}
    return value


def _drop_progress(output: dict) -> dict | None:
    """A stream output without its progress lines (None when nothing else was in it)."""
    text = output.get("text", "")
    lines = (text if isinstance(text, list) else [text])
    kept = [ln for part in lines
            for ln in part.splitlines(keepends=True) if not ln.startswith(PROGRESS_PREFIX)]
    if not kept:
        return None
    return {**output, "text": kept}


def strip_notebook(nb: dict, root: str | os.PathLike | None = None) -> dict:
    """The notebook (nbformat 4 JSON, as a dict) without its volatile parts; see the module doc."""
    meta = dict(nb.get("metadata", {}))
    if "papermill" in meta:
        meta["papermill"] = {k: v for k, v in meta["papermill"].items() if k not in VOLATILE_PAPERMILL}
    cells = []
    for cell in nb.get("cells", []):
        cell = dict(cell)
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items()
                            if k not in ("execution", "papermill")}
        if "id" in cell and "injected-parameters" in cell["metadata"].get("tags", []):
            cell["id"] = "injected-parameters"  # papermill draws a new random id for it each time
        if cell.get("cell_type") == "code":
            cell["execution_count"] = None
            outputs = []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream":
                    out = _drop_progress(out)
                elif "execution_count" in out:
                    out = {**out, "execution_count": None}
                if out is not None:
                    outputs.append(out)
            cell["outputs"] = outputs
        cells.append(cell)
    out = {**nb, "metadata": meta, "cells": cells}
    if root is not None:
        out = _relative(out, str(Path(root).resolve()))
    return out


def strip_notebook_file(path: str | os.PathLike, root: str | os.PathLike | None = None) -> None:
    """Rewrite an executed notebook in place without its volatile parts (root: default the cwd).
    Written as Jupyter writes notebooks (indent 1, sorted keys, trailing newline)."""
    path = Path(path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not a readable notebook ({exc})") from None
    if not isinstance(nb, dict) or "cells" not in nb:
        raise ConfigError(f"{path} is not a notebook (no cells)")
    nb = strip_notebook(nb, Path.cwd() if root is None else root)
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def parameter_value(text: str) -> bool | int | float | str | None:
    """A `-p NAME VALUE` value typed as papermill's command line types it (True, False and None; then an
    int, a float, else the text), so `frecore notebook` and `papermill` run a notebook alike."""
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# Errors a notebook raises for bad input (a parameter, a missing dataset): one line, not a traceback.
INPUT_ERRORS = ("ConfigError", "MissingDataError")


def execute_notebook(source: str | os.PathLike, executed: str | os.PathLike, parameters: dict[str, Any],
                     cwd: str | os.PathLike | None = None, log_output: bool = False) -> None:
    """Run a notebook with papermill. A ConfigError or MissingDataError raised inside it (a bad
    profile, device or executor, no MNIST) becomes a ConfigError carrying its own message, so the
    command ends in one line; any other failure keeps papermill's traceback (a bug to see whole)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    if log_output:  # papermill logs the notebook's output through its logger: show it as its CLI does
        logger = logging.getLogger("papermill")
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        pm.execute_notebook(str(source), str(executed), parameters=parameters, cwd=cwd, log_output=log_output,
                            progress_bar=False)
    except PapermillExecutionError as exc:
        if exc.ename not in INPUT_ERRORS:
            raise
        raise ConfigError(f"{exc.evalue} (notebook {source}; the partly executed copy: {executed})") from None
