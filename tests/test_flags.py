"""train's flags are generated from the config dataclasses (frecore.config.flags): every field is
reachable, and flags map onto the config and back for every registered run."""
from __future__ import annotations

import pytest

from frecore.cli import build_parser
from frecore.config import RunConfig
from frecore.config.flags import config_fields, config_from_flags, flag_name, flags_for
from frecore.experiments import list_experiments, plan


def _train_parser():
    return build_parser()._subparsers._group_actions[0].choices["train"]


def test_every_config_field_has_a_flag_with_help():
    """Walks the dataclasses, not a list: a field added to any of them is a flag at once."""
    options = {o for action in _train_parser()._actions for o in action.option_strings}
    for section, f in config_fields():
        assert f.metadata.get("help"), f"{section}.{f.name} has no help"
        name = f.metadata.get("negate", flag_name(f)) if f.default is True else flag_name(f)
        assert name in options, f"{section}.{f.name} has no flag"
    assert {"--damping", "--scheduler"} <= options  # once missing: Table 2's cosine rows could not be trained


def test_no_flags_give_the_default_config():
    assert config_from_flags(_train_parser().parse_args([])) == RunConfig()


def _round_trip(cfg: RunConfig) -> RunConfig:
    return config_from_flags(_train_parser().parse_args(flags_for(cfg)))


@pytest.mark.parametrize("profile", ["smoke", "paper"])
def test_every_registered_runs_config_round_trips_through_its_flags(profile):
    """flags_for(cfg) parsed back is cfg, for every run of every experiment: every field, every
    kind of value (per-block lists, SRC:DST pairs, optional numbers, negated booleans)."""
    configs = {p.run_id: p.config for e in list_experiments() for p in plan(e, profile)}
    assert len(configs) > 50
    for cfg in configs.values():
        assert _round_trip(cfg) == cfg, flags_for(cfg)


def test_unusual_values_round_trip():
    from frecore.config import override

    cfg = override(RunConfig(), net={"topology": "custom", "skips": ((0, 2),), "hidden": (5, 5, 5),
                                     "alpha": 1.0, "beta": (0.25, 0.5, 0.75), "init": "torch"},
                   rule={"settle_tol": 1e-4, "settle_tol_nudged": 0.01, "settle_relative": True},
                   optim={"scheduler": "cosine", "lr": (0.1, 0.2, 0.3), "train_last": 2},
                   data={"download": False, "root": "/tmp/x"}, noise={"state_noise_in_training": False},
                   seed=3)
    flags = flags_for(cfg)
    assert "--no-download" in flags and "--state-noise-test-only" in flags and "--skips" in flags
    assert _round_trip(cfg) == cfg
