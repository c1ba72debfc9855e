"""frecore.reporting.appendix: per-epoch tables of Figures S1-S7 and the checks of their claims."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from frecore.reporting.appendix import (dynamics_claims, epoch_table, error_claims, figS3_claims, layer_means,
                                        maxima, neuron_errors, steadiness_claim)


def _runs_and_summary():
    """Two runs of two rows as the store records them: probe before training and per epoch."""
    runs, lines = [], []
    for k, (arch, beta, ftmle) in enumerate((("2HL-symm", 0.01, -2.0), ("2HL-symm", 1.0, 0.1))):
        history = [{"epoch": e, "train_acc": 90.0 + e, "test_acc": 91.0 + e + beta,
                    "probe": {"ftmle": ftmle + 0.1 * e, "mle": ftmle, "neuron_error": [1e-6 * e, -1e-3, 0.1]}}
                   for e in (1, 2)]
        runs.append({"run_id": f"id{k}", "seed": 0, "status": "ok", "history": json.dumps(history),
                     "probe_before": json.dumps({"ftmle": ftmle - 1, "mle": ftmle - 1}),
                     "config": json.dumps({"net": {"hidden": [1, 1]}})})
        lines.append({"row": f"{arch} beta={beta:g}", "arch": arch, "approach": f"{beta:g}", "beta_i": beta,
                      "depth": 2, "run_ids": f"id{k}", "default_reading": True})
    return pd.DataFrame(runs), pd.DataFrame(lines)


def test_epoch_table_reads_the_probe_per_epoch_and_before_training():
    runs, summary = _runs_and_summary()
    t = epoch_table(runs, summary)
    assert list(t["epoch"]) == [0, 1, 2, 0, 1, 2]
    assert t["ftmle"].tolist() == [-3.0, -2.0 + 0.1, -2.0 + 0.2, -0.9, 0.1 + 0.1, 0.1 + 0.2]
    assert math.isnan(t["test_acc"].iloc[0]) and t["test_acc"].iloc[2] == 93.01
    m = maxima(t).set_index("beta")
    assert m.loc[1.0, "ftmle"] == 0.1 + 0.2 and m.loc[0.01, "test_acc"] == 93.01  # epoch 0 left out
    errors = neuron_errors(runs, summary)
    assert errors["2HL-symm beta=1"].shape == (2, 3) and errors["2HL-symm beta=1"][1, 0] == 2e-6
    np.testing.assert_allclose(layer_means(errors["2HL-symm beta=1"], [1, 1, 1])[1], [2e-6, 1e-3, 0.1])


def test_dynamics_claims_hold_when_ordered_and_fail_when_not():
    runs, summary = _runs_and_summary()
    t = epoch_table(runs, summary)
    verdicts = {c.claim: c.verdict for c in dynamics_claims("figS1", t)}
    assert verdicts["smaller beta_i usually yields smaller FTMLE"] == "holds"
    assert verdicts["larger beta_i does not always yield larger FTMLE (saturation)"] == "does not hold"
    flipped = t.assign(ftmle=-t["ftmle"])
    assert {c.claim: c.verdict for c in dynamics_claims("figS1", flipped)}[
        "smaller beta_i usually yields smaller FTMLE"] == "does not hold"
    unprobed = t.assign(ftmle=math.nan, mle=math.nan)
    assert {c.verdict for c in dynamics_claims("figS1", unprobed)} == {"not measured"}


def test_short_runs_read_not_enough_epochs_and_long_ones_are_judged():
    runs, summary = _runs_and_summary()
    t = epoch_table(runs, summary)  # 2 epochs; best accuracy at beta_i = 1: a shallow net's claim fails
    claim = next(c for c in figS3_claims(t) if "suits a shallow net" in c.claim)
    assert claim.verdict == "not enough epochs" and "beta_i=1" in claim.numbers
    assert next(c for c in figS3_claims(t, paper_epochs=2) if "suits" in c.claim).verdict == "does not hold"
    assert steadiness_claim("figS5", t, 0.01, [1.0], "steadier").verdict == "not enough epochs"
    long = pd.concat([t, t[t["epoch"] == 2].assign(epoch=3,
                                                   test_acc=lambda d: d["test_acc"] - 5 * d["beta"])])
    assert steadiness_claim("figS5", long, 0.01, [1.0], "steadier").verdict == "holds"


def test_error_claims_compare_layers_of_the_last_epoch():
    t = pd.DataFrame({"arch": "2HL-symm", "beta": [0.001, 0.001, 2.0, 2.0], "seed": 0, "status": "ok",
                      "epoch": [1, 2, 1, 2], "test_acc": [97.0, 97.5, 60.0, 61.0]})
    errors = {"2HL-symm beta=0.001": np.array([[1.0, 1.0, 1.0, 1.0, 1.0], [1e-7, -1e-7, 1e-4, 1e-4, 0.1]]),
              "2HL-symm beta=2": np.array([[0.1, 0.1, 0.01, 0.01, 0.2]] * 2)}
    claims = {c.claim.split(" -- ")[0]: c
              for c in error_claims("figS5", t, errors, [2, 2, 1], paper_epochs=2)}
    assert claims["2HL: the best accuracy is at beta_i = 0.001"].verdict == "holds"
    first = next(c for k, c in claims.items() if "two orders" in k or "2 orders" in k)
    assert first.verdict == "holds" and "layer 2 / layer 1 = 1000" in first.numbers
    falls = next(c for k, c in claims.items() if "falls from the output" in k)
    assert falls.verdict == "does not hold"  # layer 1 (0.1) above layer 2 (0.01)
    none = error_claims("figS5", t, {}, [2, 2, 1])
    assert {c.verdict for c in none if "error" in c.claim} == {"not measured"}


def test_figure_claims_read_only_the_runs_the_summary_counts():
    """The results page reads the owner's whole CSV: a foreign run (another net's, other layer sizes)
    in it changes no claim line."""
    from frecore.reporting.appendix import figure_claims

    runs, summary = _runs_and_summary()
    lines = [c.line() for c in figure_claims("figS5", runs, summary)]
    foreign = runs.iloc[:1].assign(run_id="other", config=json.dumps({"net": {"hidden": [9] * 10}}))
    assert [c.line() for c in figure_claims("figS5", pd.concat([foreign, runs]), summary)] == lines
    assert len(lines) == 4
    with pytest.raises(ValueError, match="no claims"):
        figure_claims("table1", runs, summary)
