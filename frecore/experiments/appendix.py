"""Figures S1-S7 (Appendix A-B): dynamics over training, beta_i sweeps and per-neuron errors.

Every point of these figures is a run Table S1 (or, for Figure S4's P-EP panel, Table 1) already
trains: each figure's rows are those tables' rows (`shared_rows`, Row.owner), so they plan the same
run ids, train once, are recorded once in the owner's runs CSV, and carry Table S1's probe
(`lyapunov`: FTMLE and MLE after every epoch; the cells of Figures S5-S7, NEURON_ERROR_CELLS, the
`appendix` probe, which adds the per-neuron error, as their rows' Row.probe). Profiles are therefore the
owners': in the quick profile Table S1's 2 epochs and one seed (conv cells one epoch), Table 1's
P-EP conv row a twentieth of an epoch; the paper profile 50 (conv 40) epochs and 5 seeds. Figure S3
trains nothing: its notebook summarises Figures S1-S2's runs.
"""
from __future__ import annotations

from frecore.experiments.common import FIG_BETAS
from frecore.experiments.registry import Row, get_rows, register_experiment, shared_rows

DEPTHS = (2, 3, 5, 10)  # the rows of Figures S1-S2 (and S3's lines)
ERROR_BETAS = (0.001, 0.1, 1.0, 2.0)  # Figures S5-S6's panels (the authors' Edfigs/EP_L2, EP_L10)
RESIDUAL_BETAS = (0.01, 0.1, 1.0)  # Figure S7: Table S1's residual cells
CONV_BETAS = (0.01, 0.1, 1.0)  # Figure S4 (b-d): Table S1's conv cells, CNN_EP_MNIST's fbsc_range
CONV_PEP = "Conv P-EP (hard-sigmoid)"  # Figure S4 (a): Table 1's P-EP conv row (Ernoult et al.'s settings)
SMOKE_DEPTHS = (2, 3)  # the smoke profile (CI, nbval) of Figures S1-S3 trains these depths only: seconds


def _cells(arch: str, betas=FIG_BETAS) -> list[str]:
    return [f"{arch} beta={b:g}" for b in betas]


NEURON_ERROR_CELLS = (_cells("2HL-symm", ERROR_BETAS), _cells("10HL-symm", ERROR_BETAS),
                      _cells("10HL-Residual-symm", RESIDUAL_BETAS))  # Figures S5, S6, S7: Table S1's rows


def _sweep(connections: str) -> list[Row]:
    return shared_rows("tableS1", [c for d in DEPTHS for c in _cells(f"{d}HL-{connections}")])


@register_experiment(plot="dynamics_curves")
def figS1() -> list[Row]:
    """Figure S1: FTMLE, MLE, train and test accuracy vs epoch, symmetric 2/3/5/10HL-64, one line per
    beta_i."""
    return _sweep("symm")


@register_experiment(plot="dynamics_curves")
def figS2() -> list[Row]:
    """Figure S2: FTMLE, MLE, train and test accuracy vs epoch, asymmetric 2/3/5/10HL-64, one line per
    beta_i."""
    return _sweep("asymm")


@register_experiment(plot="dynamics_maxima")
def figS3() -> list[Row]:
    """Figure S3: maxima over epochs of FTMLE and test accuracy vs beta_i, one line per depth
    (symmetric and asymmetric): Figures S1-S2's runs, nothing trained."""
    return _sweep("symm") + _sweep("asymm")


@register_experiment(plot="panel_curves")
def figS4() -> list[Row]:
    """Figure S4: the MNIST conv net, P-EP (a) against ours at beta_i = 0.01, 0.1, 1 (b-d), accuracy vs
    epoch."""
    return shared_rows("table1", [CONV_PEP]) + shared_rows("tableS1", _cells("conv-symm", CONV_BETAS))


@register_experiment(plot="neuron_error_maps")
def figS5() -> list[Row]:
    """Figure S5: 2HL-64 (symmetric), the mean error of each neuron in each epoch's last batch and test
    accuracy."""
    return shared_rows("tableS1", NEURON_ERROR_CELLS[0])


@register_experiment(plot="neuron_error_maps")
def figS6() -> list[Row]:
    """Figure S6: 10HL-64 (symmetric), the mean error of each neuron in each epoch's last batch and test
    accuracy."""
    return shared_rows("tableS1", NEURON_ERROR_CELLS[1])


@register_experiment(plot="neuron_error_maps")
def figS7() -> list[Row]:
    """Figure S7: 10HL-64 with residual links, the mean error of each neuron in each epoch's last batch and
    test accuracy."""
    return shared_rows("tableS1", NEURON_ERROR_CELLS[2])


def smoke_rows(name: str) -> list[str] | None:
    """The rows a figure's notebook runs in the smoke profile when none are asked for, so that it
    runs in seconds: Figures S1-S3 keep their 2- and 3-layer rows (the 5- and 10-layer ones, T =
    50-100 and a 500-step MLE each, would take minutes), Figure S4 its panel (b) (a conv smoke run
    takes ~15 s, P-EP's T = 200 one minutes); None (every row) for the others."""
    if name == "figS4":
        return [f"conv-symm beta={CONV_BETAS[0]:g}"]
    if name not in ("figS1", "figS2", "figS3"):
        return None
    return [r.label for r in get_rows(name) if int(r.arch.split("HL")[0]) in SMOKE_DEPTHS]
