"""The schema of one runs-CSV row: every cell as `store.run_record` writes it.

`store.read_runs` checks each well-formed line (the right number of fields) against it on every
read; the first bad cell stops the read with its line and column, and the file is left as it is
(a torn line, with the wrong number of fields, is set aside instead: see docs/reliability.md).
A run id is recorded once: a second line with an id already seen is an error naming both lines,
so no run is ever counted twice."""
from __future__ import annotations

import json
import math
import re
from typing import Any

RUN_ID = re.compile(r"[0-9a-f]{12}")
STATUSES = ("ok", "diverged", "failed")
ACC_COLUMNS = ("best_test_acc", "final_test_acc", "best_train_acc", "final_train_acc")  # %, or empty
TIME_COLUMNS = ("wall_s", "epoch_s")  # seconds, or empty
INT64_MAX = 2**63 - 1  # the table's integer columns are int64
INT_MINIMUM = {"seed": 0, "epochs": 1, "epochs_run": 0}
CONFIG_SECTIONS = ("net", "rule", "optim", "data")  # `noise` came later: optional
EPOCH_NUMBERS = {"train_loss": (0.0, math.inf), "test_loss": (0.0, math.inf), "train_acc": (0.0, 100.0),
                 "test_acc": (0.0, 100.0), "seconds": (0.0, math.inf)}


class CellError(ValueError):
    """One cell that is not what the writer writes: its column name and the problem."""

    def __init__(self, column: str, problem: str):
        super().__init__(f"{column}: {problem}")
        self.column, self.problem = column, problem


def _number(text: str, column: str, low: float, high: float, *, empty_ok: bool = True) -> float:
    if text == "" and empty_ok:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise CellError(column, f"{_show(text)} is not a number") from None
    if not math.isfinite(value):
        raise CellError(column,
                        f"{_show(text)} is not a finite number (an unmeasured value is an empty cell)")
    if not low <= value <= high:
        raise CellError(column, f"{_show(text)} is outside [{low:g}, {high:g}]")
    return value


def _integer(text: str, column: str, low: int) -> int:
    if not re.fullmatch(r"[0-9]+", text):
        raise CellError(column, f"{_show(text)} is not a non-negative integer")
    value = int(text)
    if not low <= value <= INT64_MAX:
        raise CellError(column, f"{_show(text)} is outside [{low}, 2^63 - 1]")
    return value


def _show(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _json(text: str, column: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CellError(column, f"not valid JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(value: Any) -> bool:
    """A number, null, or a (nested) list of them: a probe's per-neuron or per-layer values."""
    if isinstance(value, list):
        return all(_numbers(v) for v in value)
    return _is_number(value) or value is None


def _measures(value: Any, column: str) -> None:
    """A probe or step-count object: names to numbers (NaN allowed: an angle of a zero vector), or to
    lists of numbers (Figures S5-S7's per-neuron error)."""
    if not isinstance(value, dict):
        raise CellError(column, f"must be a JSON object of numbers, got {_kind(value)}")
    for k, v in value.items():
        if not _numbers(v):
            raise CellError(column, f"{k!r} must be a number or a list of numbers, got {_kind(v)}")


def check_config(text: str, seed: int | None) -> None:
    config = _json(text, "config")
    if not isinstance(config, dict):
        raise CellError("config", f"must be a JSON object (RunConfig.to_dict), got {_kind(config)}")
    for section in (*CONFIG_SECTIONS, "noise"):
        if section not in config and section != "noise":
            raise CellError("config", f"has no {section!r} section")
        if section in config and not isinstance(config[section], dict):
            raise CellError("config", f"section {section!r} must be an object, got {_kind(config[section])}")
    if not (isinstance(config.get("seed"), int) and not isinstance(config["seed"], bool)):
        raise CellError("config", f"'seed' must be an integer, got {_kind(config.get('seed'))}")
    if seed is not None and config["seed"] != seed:  # blamed on the short cell: a damaged config fails above
        raise CellError("seed", f"{seed} is not the seed in the row's config ({config['seed']})")
    if not isinstance(config.get("device", "auto"), str):
        raise CellError("config", f"'device' must be a string, got {_kind(config['device'])}")


def check_history(text: str, epochs_run: int | None) -> None:
    history = _json(text, "history")
    if not isinstance(history, list):
        raise CellError("history", f"must be a JSON list of epochs, got {_kind(history)}")
    for i, h in enumerate(history, 1):
        if not isinstance(h, dict):
            raise CellError("history", f"epoch entry {i} must be an object, got {_kind(h)}")
        if not (isinstance(h.get("epoch"), int) and not isinstance(h["epoch"], bool) and h["epoch"] >= 1):
            raise CellError("history", f"epoch entry {i}: 'epoch' must be an integer >= 1")
        for key, (low, high) in EPOCH_NUMBERS.items():
            v = h.get(key)
            if not _is_number(v) or not math.isfinite(v) or not low <= v <= high:
                raise CellError("history", f"epoch entry {i}: {key!r} must be a finite number in "
                                           f"[{low:g}, {high:g}], got {v!r}")
        for key in ("probe", "steps"):
            if key in h:
                _measures(h[key], f"history (epoch entry {i}, {key!r})")
    if epochs_run is not None and len(history) != epochs_run:
        raise CellError("epochs_run", f"{epochs_run}, but the row's history holds {len(history)} epochs")


def check_record(rec: dict[str, str]) -> None:
    """Raise CellError for the first cell of a runs row (column -> text) that the writer would not
    have written; a column the file lacks (an optional, later one) is not checked."""
    if "run_id" in rec and not RUN_ID.fullmatch(rec["run_id"]):
        raise CellError("run_id", f"{_show(rec['run_id'])} is not a run id (12 lowercase hex digits)")
    if "status" in rec and rec["status"] not in STATUSES:
        raise CellError("status", f"{_show(rec['status'])} is not one of {', '.join(STATUSES)}")
    ints = {c: _integer(rec[c], c, low) for c, low in INT_MINIMUM.items() if c in rec}
    for c in ACC_COLUMNS:
        if c in rec:
            _number(rec[c], c, 0.0, 100.0)
    for c in TIME_COLUMNS:
        if c in rec:
            _number(rec[c], c, 0.0, math.inf)
    if "config" in rec:
        check_config(rec["config"], ints.get("seed"))
    if "history" in rec:
        check_history(rec["history"], ints.get("epochs_run"))
    if rec.get("probe_before", ""):  # empty in rows recorded before the column existed
        _measures(_json(rec["probe_before"], "probe_before"), "probe_before")
