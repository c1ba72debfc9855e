"""The authors' saved learning curves, read off the printed outputs of their notebooks (GitHub
Zero0Hero/FRE-RNN-EP, commit ee93890): a check epoch by epoch of whether we track the code that made the
paper. The numbers live in `data/authors_curves.json`, regenerated from a clone of that repository by
`tools/authors_curves.py` (which documents the print formats); this module only reads them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

DATA_FILE = "data/authors_curves.json"  # inside this package


@dataclass(frozen=True)
class AuthorsCurve:
    notebook: str   # file in the authors' repository
    # index of the code cell (0-based, counting all cells as in the .ipynb 'cells' list) whose output prints
    # it
    cell: int
    what: str       # which run, in the notebook's words (settings that identify it, seed/run index)
    test_acc: tuple[float, ...]  # test accuracy %, after epochs 1, 2, ... as printed
    train_acc: tuple[float, ...] = ()  # when printed, same epochs


@cache
def _data() -> dict:
    """The data file, read once (callers get copies or immutable values, never this dict)."""
    return json.loads(resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8"))


def _group(experiment: str, label: str) -> dict | None:
    data = _data()
    alias = data["aliases"].get(experiment, {}).get(label)
    group_id = data["rows"].get(experiment, {}).get(alias["same_as"] if alias else label)
    return data["groups"][group_id] if group_id else None


@cache
def curves_for(experiment: str, label: str) -> tuple[AuthorsCurve, ...]:
    """The authors' printed curves for one row (one per printed run, in print order); () when none."""
    g = _group(experiment, label)
    if g is None:
        return ()
    n = len(g["runs"])
    return tuple(AuthorsCurve(g["notebook"], g["cell"], f"{g['what']}; run {i} of {n}", tuple(r["test_acc"]),
                              tuple(r["train_acc"])) for i, r in enumerate(g["runs"]))


def summary_for(experiment: str, label: str) -> str | None:
    """The notebook's own printed summary of a row (verbatim but for its time stamp; "+-" as printed):
    best-over-epochs, mean +- std (ddof=1) over the runs, then (min max); None when none was printed."""
    g = _group(experiment, label)
    return g["summary"] if g else None


def not_printed(experiment: str, label: str) -> str | None:
    """Why a row asked for has no printed curve (None when it has one or no reason is recorded)."""
    return _data()["not_printed"].get(experiment, {}).get(label)


def labels() -> dict[str, tuple[str, ...]]:
    """experiment -> every label with printed curves (registry rows, their aliases, declared extras)."""
    data = _data()
    return {e: tuple(data["rows"].get(e, {})) + tuple(data["aliases"].get(e, {}))
            for e in dict.fromkeys([*data["rows"], *data["aliases"]])}


def extra_labels() -> dict[str, dict[str, str]]:
    """experiment -> label -> why: labels with curves that name no registered row, declared as such."""
    return json.loads(json.dumps(_data()["extra_labels"]))


def source() -> dict[str, str]:
    """The repository and commit the curves were read from."""
    return dict(_data()["source"])
