"""What trains one planned run, in this process or in a worker: the unit an executor calls."""
from __future__ import annotations

import hashlib
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from frecore.analysis.probes import PROBES
from frecore.config import ConfigError
from frecore.experiments import PlannedRun
from frecore.model.init import TORCH_DTYPES
from frecore.reporting import store
from frecore.training.data import Dataset, load_dataset
from frecore.training.loop import fit, fit_members
from frecore.training.saved import save_model
from frecore.training.train import Deadline, RunPaused, RunResult, resolve_device


def checkpoint_file(folder: Path, runs: Sequence[PlannedRun]) -> Path:
    """The per-epoch checkpoint of a run (<run_id>.pt) or of runs side by side (group-<hash of their
    ids>.pt)."""
    if len(runs) == 1:
        return Path(folder) / f"{runs[0].run_id}.pt"
    ids = hashlib.sha1(" ".join(p.run_id for p in runs).encode()).hexdigest()[:12]
    return Path(folder) / f"group-{ids}.pt"


@dataclass
class RunTrainer:
    """Trains one planned run and returns its results row; what an executor calls per run.

    Holds a data cache, so one trainer per process (or per worker) loads each dataset once.
    A `MissingDataError` or `ConfigError` is raised (the set-up is wrong, not the run); any
    other exception becomes a 'failed' row."""
    # the sweep's probe (executors.groups: a group shares one, none that reads the last batch)
    probe: str | None = None
    # per owning experiment, where a sweep shares runs
    probes: dict[str, str | None] = field(default_factory=dict)
    commit: str | None = None
    progress: bool = False
    # per-epoch checkpoints <run_id>.pt here: a cut run continues (loop.fit)
    checkpoint_dir: Path | None = None
    # keep each run's final and best nets, <run_id>.pt and <run_id>.best.pt, here
    save_dir: Path | None = None
    # no epoch starts that would end after it, none once it is stopped (RunPaused)
    until: Deadline | None = None
    cache: dict[tuple, Dataset] = field(default_factory=dict, repr=False)

    def _record(self, p: PlannedRun, result: RunResult) -> dict:
        """The run's results row, after saving its final and best nets when asked (a net that diverged
        is not kept). A net that cannot be written costs a warning, never the run's row."""
        if self.save_dir is not None and result.net is not None and result.status == "ok":
            try:
                save_model(Path(self.save_dir) / f"{p.run_id}.pt", result)
                save_model(Path(self.save_dir) / f"{p.run_id}.best.pt", result, best=True)
            except OSError as exc:
                tqdm.write(f"warning: the net of {p.row.label} seed {p.seed} was not saved ({exc})",
                           file=sys.stderr)
        return store.run_record(p, result, commit=self.commit)

    def dataset(self, p: PlannedRun) -> Dataset:
        dev = resolve_device(p.config.device)
        key = (p.config.data, str(dev), p.config.net.dtype)
        if key not in self.cache:
            self.cache[key] = load_dataset(p.config.data, device=dev, dtype=TORCH_DTYPES[p.config.net.dtype])
        return self.cache[key]

    def group(self, runs: list[PlannedRun]) -> list[dict]:
        """Train runs side by side (frecore.training.members) and return their rows, in order. A pass
        that raises (out of device memory, a kernel the device lacks) is not the runs' fault: they are
        then trained one by one, each with its own failure handling."""
        data = self.dataset(runs[0])
        try:
            checkpoint = checkpoint_file(self.checkpoint_dir,
                                         runs) if self.checkpoint_dir is not None else None
            # one probe per group (executors.groups), none that reads the last batch
            name = self.probe_name(runs[0])
            results = fit_members([p.config for p in runs], data, checkpoint=checkpoint, until=self.until,
                                  keep_best=self.save_dir is not None,
                                  probe=PROBES[name] if name else None)
        except (ConfigError, FileNotFoundError, RunPaused):
            raise
        except Exception as exc:
            tqdm.write(f"warning: {len(runs)} runs side by side failed ({type(exc).__name__}: {exc}); "
                       "training them one by one", file=sys.stderr)
            if self.progress:
                tqdm.write(traceback.format_exc())
            return [self(p) for p in runs]
        return [self._record(p, r) for p, r in zip(runs, results)]

    def probe_name(self, p: PlannedRun) -> str | None:
        """The probe `p` is measured with: its row's (Row.probe), else its owning experiment's."""
        return p.row.probe or self.probes.get(p.experiment, self.probe)

    def __call__(self, p: PlannedRun) -> dict:
        name = self.probe_name(p)
        probe = PROBES[name] if name else None
        data = self.dataset(p)  # MissingDataError propagates: the driver skips that dataset's runs
        try:
            checkpoint = checkpoint_file(self.checkpoint_dir,
                                         [p]) if self.checkpoint_dir is not None else None
            result = fit(p.config, data, progress=self.progress, probe=probe, checkpoint=checkpoint,
                         until=self.until, keep_best=self.save_dir is not None)
            return self._record(p, result)
        except (ConfigError, FileNotFoundError):
            raise  # the user's input is wrong: every run would fail the same way
        except RunPaused:
            raise  # not a result: the deadline came, the checkpoint continues it
        except Exception as exc:  # one broken run is a result, not the end of the sweep
            if self.progress:
                tqdm.write(traceback.format_exc())
            return store.run_record(p, None, status="failed", message=f"{type(exc).__name__}: {exc}",
                                      commit=self.commit)
