"""Saved models: a trained net as a plain dict (format tag, version, config as JSON, state_dict,
the accuracy recorded when it was saved), written by torch.save and read with
torch.load(weights_only=True), so loading a file never unpickles an arbitrary object. The net is
rebuilt from its stored config (the rule's build_net) and its weights loaded into it."""
from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from frecore.config import DEVICES, ConfigError, RunConfig, override, run_config_from_dict
from frecore.model.init import TORCH_DTYPES
from frecore.model.noise import state_noise
from frecore.model.protocol import Net
from frecore.rules import LearningRule, build_rule
from frecore.training.data import INPUT_SHAPES, load_dataset
from frecore.training.train import RunResult, evaluate, resolve_device

FORMAT = "frecore-model"
VERSION = 1


class ModelFileError(ConfigError):
    """A file that is not a readable frecore model (foreign, corrupt, another version)."""


@dataclass
class SavedModel:
    net: Net
    config: RunConfig
    rule: LearningRule
    test_acc: float  # test accuracy of this net when it was saved (its last epoch, or its best), %
    best_test_acc: float  # best over the run's epochs (the paper's protocol), %
    epochs_run: int
    device: torch.device

    def evaluate(self, data_root: str | None = None) -> float:
        """Test accuracy (%) of the net on its config's test split (data root: this argument, else
        the recorded one, else $FRECORE_DATA). Test-time state noise, if the config has any, is a
        fresh draw from the run's noise seed: only a noiseless net repeats its recorded number exactly."""
        cfg = self.config if data_root is None else override(self.config, data={"root": data_root})
        data = load_dataset(cfg.data, device=self.device, dtype=TORCH_DTYPES[cfg.net.dtype])
        gen = torch.Generator(device=self.device).manual_seed(cfg.seed + 104729)  # fit's noise stream
        noise = state_noise(cfg.noise.state_std, gen, cfg.noise.state_noise_model)
        return evaluate(self.rule, self.net, data.test, noise=noise)[1]


def save_model(path: str | os.PathLike, result: RunResult, best: bool = False) -> Path:
    """Write a finished run's net atomically (its final net, result.net; with `best`, the net of its
    best epoch, result.best_state: fit(keep_best=True)); returns the path."""
    if (result.best_state if best else result.net) is None:
        raise ConfigError(f"this run kept no {'best' if best else 'final'} net to save")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = result.best_state if best else {k: v.detach().cpu() for k, v in result.net.state_dict().items()}
    acc = result.best_test_acc if best else result.final_test_acc
    payload = {"format": FORMAT, "version": VERSION,
               "config": json.dumps(result.config.to_dict(), sort_keys=True), "state_dict": state,
               "test_acc": float(acc), "best_test_acc": float(result.best_test_acc),
               "epochs_run": len(result.history), "status": result.status}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _read(path: Path) -> dict:
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with warnings.catch_warnings():  # a foreign pickle's protocol warning: the error below says it all
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, corrupt, a foreign pickle: never unpickled
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelFileError(f"{path} is not a frecore model ({type(exc).__name__}: {first[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a frecore model (no '{FORMAT}' tag)")
    if payload.get("version") != VERSION:
        raise ModelFileError(f"{path} is a frecore model of version {payload.get('version')!r}; "
                             f"this frecore reads version {VERSION}")
    return payload


def load_model(path: str | os.PathLike, device: str = "cpu") -> SavedModel:
    """The saved net rebuilt from its config, its weights loaded, on `device` (cpu, cuda, auto).
    A foreign, corrupt or other-version file raises ModelFileError (one `error:` line in the CLI)."""
    path = Path(path)
    if device not in DEVICES:
        raise ConfigError(f"unknown device {device!r}; choose one of: {', '.join(DEVICES)}")
    dev = resolve_device(device)
    payload = _read(path)
    try:
        cfg = run_config_from_dict(json.loads(payload["config"]))
        rule = build_rule(cfg.rule)
        shape, n_classes = INPUT_SHAPES[cfg.data.dataset]
        net = rule.build_net(cfg.net, shape, n_classes, torch.Generator().manual_seed(cfg.seed), dev)
        net.load_state_dict(payload["state_dict"])
    except ConfigError as exc:
        raise ModelFileError(f"{path}: its config cannot be rebuilt here ({exc})") from None
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelFileError(f"{path}: damaged frecore model ({type(exc).__name__}: {first[:200]})") from None
    acc = payload.get("test_acc", math.nan)
    return SavedModel(net, cfg, rule, float(acc), float(payload.get("best_test_acc", math.nan)),
                      int(payload.get("epochs_run", 0)), dev)
