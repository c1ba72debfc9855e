import math

import pytest

from frecore.rules import build_rule
from frecore.config import (ConfigError, DataConfig, NetConfig, OptimConfig, RuleConfig, RunConfig, override,
                            run_config_from_dict)


@pytest.mark.parametrize("make, match", [
    (lambda: build_rule(RuleConfig(name="hebb")), "unknown rule 'hebb'; choose one of: ep, bp, fa"),
    (lambda: NetConfig(activation="relu"), "unknown activation 'relu'"),
    (lambda: DataConfig(dataset="svhn"), "unknown dataset 'svhn'; choose one of: mnist, cifar10"),
    (lambda: NetConfig(feedback="learned"), "unknown feedback 'learned'"),
    (lambda: NetConfig(beta=-0.1), r"beta must be >= 0"),
    (lambda: NetConfig(alpha=math.inf), r"alpha must be finite"),
    (lambda: NetConfig(beta=math.nan), r"beta must be finite"),
    (lambda: RuleConfig(beta_f=-1.0), "beta_f must be >= 0"),
    (lambda: RuleConfig(beta_f=math.nan), "beta_f must be finite"),
    (lambda: RuleConfig(free_steps=0), r"free_steps \(T\) must be an integer >= 1"),
    (lambda: RuleConfig(nudge_steps=0), r"nudge_steps \(K\) must be an integer >= 1"),
    (lambda: NetConfig(hidden=()), "hidden must be a non-empty list of positive integers"),
    (lambda: NetConfig(hidden=(64, 0)), "hidden must be a non-empty list of positive integers"),
    (lambda: NetConfig(hidden=(64, 64), beta=(0.1, 0.2)), "one per hidden->hidden block"),
    (lambda: OptimConfig(lr=0.0), "lr must be > 0"),
    (lambda: OptimConfig(lr=(0.1, -0.1)), r"lr\[1\] must be > 0"),
    (lambda: OptimConfig(weight_decay=-1e-5), "weight_decay must be >= 0"),
    (lambda: OptimConfig(name="rmsprop"), "unknown optimizer"),
    (lambda: OptimConfig(batch_size=0), "batch_size must be an integer >= 1"),
    (lambda: RunConfig(device="tpu"), "unknown device 'tpu'"),
])
def test_bad_values_get_one_clear_message(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_scalars_broadcast_per_block():
    cfg = NetConfig(hidden=(5, 6, 7), alpha=2.0, beta=(0.1, 0.2))
    assert cfg.alpha == (2.0, 2.0)
    assert cfg.beta == (0.1, 0.2)


def test_lr_list_must_match_weight_count():
    assert OptimConfig(lr=(0.1, 0.2, 0.3)).lrs_for(3) == (0.1, 0.2, 0.3)
    assert OptimConfig(lr=0.5).lrs_for(4) == (0.5,) * 4
    with pytest.raises(ConfigError, match="lr lists 3 values but the net has 4"):
        OptimConfig(lr=(0.1, 0.2, 0.3)).lrs_for(4)


def test_round_trip_and_unknown_keys():
    cfg = override(RunConfig(), net={"hidden": (3, 4), "beta": 0.5}, optim={"lr": (0.1, 0.2, 0.3)}, seed=3)
    assert run_config_from_dict(cfg.to_dict()) == cfg
    d = cfg.to_dict()
    d["net"]["gamma"] = 1
    with pytest.raises(ConfigError, match="unknown net setting"):
        run_config_from_dict(d)


def test_configs_recorded_before_the_chain_was_named_still_read():
    """Results rows recorded before 2026-11-29 call the plain chain topology 'layered'."""
    d = RunConfig().to_dict()
    d["net"]["topology"] = "layered"
    assert run_config_from_dict(d).net.topology == "chain"


def test_every_field_with_choices_refuses_a_value_outside_them():
    """The choices a flag offers are the values its config accepts: one declaration (setting(choices=...))."""
    from frecore.config import NoiseConfig
    from frecore.config.flags import config_fields

    sections = {"net": NetConfig, "rule": RuleConfig, "optim": OptimConfig, "data": DataConfig,
                "noise": NoiseConfig, "": RunConfig}
    checked = 0
    for section, f in config_fields():
        if "choices" not in f.metadata:
            continue
        assert f.default in f.metadata["choices"], f.name
        with pytest.raises(ConfigError, match="choose one of"):
            sections[section](**{f.name: "no-such-choice"})
        checked += 1
    assert checked >= 15
