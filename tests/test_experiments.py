import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from frecore.config import ConfigError
from frecore.experiments import (EXPERIMENTS, PROFILES, get_rows, list_experiments, plan, register_experiment,
                                 selection)

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", list_experiments())
def test_rows_are_complete_and_unique(name):
    rows = get_rows(name)
    assert len({r.label for r in rows}) == len(rows)
    for r in rows:
        if name.startswith("table"):  # tables quote a number per row; figure points may not
            assert r.paper is not None
        if r.paper is not None:
            assert 0 < r.paper.test_acc <= 100
            assert r.paper.test_std >= 0 or math.isnan(r.paper.test_std)  # NaN: the paper gives none
        assert 1 <= r.quick_epochs <= r.config.optim.epochs
        assert r.config.device == "auto" and r.config.data.root is None


@pytest.mark.parametrize("profile", list(PROFILES))
def test_profiles_change_scale_not_settings(profile):
    rows = get_rows("table1")
    runs = plan("table1", profile)
    seeds = {r.label: (r.quick_seeds or PROFILES[profile].seeds) if profile == "quick"
             else PROFILES[profile].seeds for r in rows}
    assert len(runs) == sum(len(v) for v in seeds.values())
    for run in runs:
        assert run.seed in seeds[run.row.label]
        paper = run.row.config
        assert run.config.net == paper.net and run.config.rule == paper.rule
        assert run.config.optim.lr == paper.optim.lr and run.config.optim.batch_size == paper.optim.batch_size
    if profile == "paper":
        assert {r.seed for r in runs} == {0, 1, 2, 3, 4}
        assert all(r.config.optim.epochs == r.row.config.optim.epochs for r in runs)
        assert all(r.config.data.train_subset is None for r in runs)
    if profile == "quick":
        assert all(r.config.data.train_subset is None for r in runs)  # full MNIST
        assert {r.config.optim.epoch_fraction for r in runs if "Conv P-EP" not in r.row.label} == {1.0}
    else:
        assert all(r.config.optim.epoch_fraction == 1.0 for r in runs)


def test_table1_conv_ours_runs_cnn_ep_mnist_and_keeps_table_s3_as_the_text_variant():
    row = {r.label: r for r in get_rows("table1")}["Conv Ours (hard-sigmoid)"]
    code, text = row.config, row.variants["text"]
    assert row.reading == "code" and row.reading_config("text") == ("text", text)
    for conv in (code, text):
        assert (conv.net.arch, conv.net.channels, conv.net.kernel, conv.net.activation) == (
            "conv", (32, 64), 5, "hard-sigmoid")
        assert (conv.rule.free_steps, conv.rule.nudge_steps, conv.net.beta) == (20, 10, (0.01,))
        assert (conv.optim.name, conv.optim.batch_size, conv.optim.epochs, conv.optim.weight_decay) == (
            "sgd", 128, 40, 1e-5)
    # CNN_EP_MNIST cells 1 and 3: rates input -> readout, nudge 0.1, torch init, fc bias, lagged readout
    assert code.optim.lr == (0.15, 0.35, 0.9) and code.rule.beta_f == 0.1
    assert (code.net.init, code.net.readout_bias, code.net.readout_lag, code.net.pool_indices) == (
        "torch", True, 1, "current")
    # Table S3: [0.15, 0.35, 0.9] read output -> input (W_f 0.15), beta_f 0.25, Glorot, no fc bias
    assert text.optim.lr == (0.9, 0.35, 0.15) and text.rule.beta_f == 0.25
    assert (text.net.init, text.net.readout_bias, text.net.readout_lag) == ("glorot", False, 0)
    assert {s.name for s in row.provenance} >= {"nudge beta_f", "init", "readout bias", "readout timing"}


def test_table1_pep_rows_follow_table_s3():
    rows = {r.label: r.config for r in get_rows("table1")}
    pep2 = rows["2HL P-EP (sigmoid-s)"]
    assert (pep2.rule.name, pep2.net.activation, pep2.optim.batch_size, pep2.optim.epochs) == (
        "pep", "sigmoid-s", 20, 50)
    assert pep2.optim.lr == (0.2, 0.05, 0.005)  # Table S3's [0.005, 0.05, 0.2] is output -> input
    assert (pep2.rule.free_steps, pep2.rule.nudge_steps) == (100, 20)
    pepc = rows["Conv P-EP (hard-sigmoid)"]
    assert (pepc.net.arch, pepc.net.activation, pepc.rule.free_steps, pepc.rule.nudge_steps) == (
        "conv", "hard-sigmoid", 200, 10)
    assert rows["3HL P-EP (sigmoid-s)"].optim.lr == (0.2, 0.05, 0.01, 0.002)


def test_table1_settings_follow_table_s3():
    rows = {r.label: r for r in get_rows("table1")}
    ours2 = rows["2HL Ours (tanh, Adam)"].config
    assert ours2.net.hidden == (512, 512) and ours2.net.beta == (0.01,) and ours2.rule.beta_f == 0.1
    assert (ours2.rule.free_steps, ours2.rule.nudge_steps, ours2.optim.batch_size) == (10, 10, 500)
    ours3 = rows["3HL Ours (tanh)"].config
    assert (ours3.optim.name, ours3.optim.lr, ours3.optim.batch_size, ours3.optim.epochs) == (
        "sgd", 0.1, 20, 100)
    assert (ours3.rule.free_steps, ours3.rule.nudge_steps) == (18, 10)
    dlr = rows["3HL Ours-DLR (tanh)"]
    assert dlr.reading == "code" and dlr.config.optim.lr == (0.002, 0.2, 0.05, 0.01)  # models_LN lr[-iL]
    assert dlr.variants["text"].optim.lr == (0.2, 0.05, 0.01, 0.002)  # Table S3's list read output -> input
    assert rows["2HL BP (tanh, Adam)"].config.rule.name == "bp"
    # the code's K = 5 prints 98.30, not the paper's 98.39: the text stays
    two = rows["2HL Ours (tanh, Adam)"]
    assert two.reading == "text" and two.config.rule.nudge_steps == 10
    assert two.variants["code"].rule.nudge_steps == 5
    # the value is the 3HL-512 layered BP of Layered_BP_EP_com_MNIST_512
    conv_bp = rows["Conv BP (tanh, Adam)"]
    assert (conv_bp.config.net.arch, conv_bp.config.net.hidden, conv_bp.config.rule.name) == (
        "layered", (512,) * 3, "bp")
    assert (conv_bp.variants["text"].net.arch, conv_bp.variants["text"].net.activation) == ("conv", "tanh")


def test_variants_plan_their_reading_and_fall_back_to_the_default():
    code = {p.row.label: p for p in plan("table1", "quick")}
    text = {p.row.label: p for p in plan("table1", "quick", variant="text")}
    assert code["3HL Ours-DLR (tanh)"].reading == "code" and text["3HL Ours-DLR (tanh)"].reading == "text"
    assert code["3HL Ours-DLR (tanh)"].run_id != text["3HL Ours-DLR (tanh)"].run_id
    assert text["2HL BP (tanh, Adam)"].reading == "paper"  # no variant: text and code agree
    assert text["2HL BP (tanh, Adam)"].run_id == code["2HL BP (tanh, Adam)"].run_id
    assert plan("table1", "quick", variant="default")[0].run_id == plan("table1", "quick")[0].run_id
    with pytest.raises(ConfigError, match="unknown variant 'best'"):
        plan("table1", "quick", variant="best")


def test_run_ids_are_stable_and_distinct():
    a, b = plan("table1", "quick"), plan("table1", "quick")
    assert [r.run_id for r in a] == [r.run_id for r in b]
    assert len({r.run_id for r in a}) == len(a)
    assert {r.run_id for r in a}.isdisjoint(r.run_id for r in plan("table1", "smoke"))


def test_run_ids_do_not_depend_on_the_data_folder_or_device():
    """CI points FRECORE_DATA at a relative path, a laptop at an absolute one: the same runs."""
    a = plan("table1", "smoke")
    b = plan("table1", "smoke", device="cpu", data_root="/somewhere/else/data")
    assert b[0].config.data.root == "/somewhere/else/data" and b[0].config.device == "cpu"
    assert [r.run_id for r in a] == [r.run_id for r in b]


def test_unknown_names_fail_loudly():
    with pytest.raises(ConfigError, match=f"unknown experiment 'table9'; known: "
                                          f"{', '.join(list_experiments())}$"):
        get_rows("table9")
    with pytest.raises(ConfigError, match="unknown profile 'huge'"):
        plan("table1", "huge")
    with pytest.raises(ConfigError, match="unknown row"):
        plan("table1", "smoke", rows=["4HL Ours"])
    assert "table1" in EXPERIMENTS


def test_fig5_sweeps_beta_on_the_64_unit_3hl_net():
    rows = get_rows("fig5")
    assert [r.config.net.beta for r in rows] == [(b,) * 2 for b in (0.001, 0.01, 0.1, 0.25, 1.0, 2.0, 4.0)]
    for r in rows:
        assert r.config.net.hidden == (64, 64, 64)
        assert (r.config.rule.free_steps, r.config.rule.nudge_steps) == (30, 15)  # T = 10 L, K = 5 L
    assert EXPERIMENTS["fig5"].probe == "dynamics" and EXPERIMENTS["fig5"].plot == "dynamics_vs_beta"


def test_table2_s1_s8_rows_follow_the_paper():
    rows = {r.label: r for r in get_rows("table2")}
    res = rows["MNIST 10-symm Ours-Residual"].config
    assert (res.net.topology, res.net.hidden, res.rule.free_steps, res.rule.nudge_steps) == (
        "residual", (64,) * 10, 100, 50)
    # Layered_LN+_res / models_LN_G: no halving, the accumulating nudge, W_f from the nudged error
    assert res.optim.lr == 1e-3 and set(res.net.beta) == {0.1}
    assert (res.rule.nudge, res.rule.readout_error) == ("accumulating", "nudged")
    res_text = rows["MNIST 10-symm Ours-Residual"].variants["text"]
    assert res_text.optim.lr == 5e-4 and (res_text.rule.nudge, res_text.rule.readout_error) == (
        "constant", "free")
    assert rows["MNIST 20-symm Ours-Residual"].config.optim.lr == 1e-3
    # halved twice in the text reading
    assert rows["MNIST 20-symm Ours-Residual"].variants["text"].optim.lr == 2.5e-4
    assert rows["CIFAR-10 10-symm Ours-Residual"].config.optim.lr == 2e-4
    agt = rows["MNIST 10-asymm Ours-AGT"].config
    assert (agt.net.topology, agt.net.feedback, agt.net.agt_p, agt.net.agt_draw) == (
        "agt", "random", 0.2, "ordered")
    assert rows["MNIST 10-asymm Ours-AGT"].variants["text"].net.agt_draw == "unordered"
    plain = rows["MNIST 10-symm Ours"]
    assert plain.reading == "paper" and plain.config.optim.lr == 5e-4
    conv = rows["MNIST Conv Ours"].config  # CNN_MNIST_comBP_c2fc1benchmark cells 4 and 9
    assert (conv.optim.name, conv.optim.lr, conv.optim.weight_decay, conv.rule.beta_f) == (
        "adamw", 2e-4, 1e-6, 0.25)
    assert (conv.net.pool_indices, conv.net.readout_lag, conv.net.init, conv.net.readout_bias) == (
        "previous", 1, "torch", True)
    conv_text = rows["MNIST Conv Ours"].variants["text"]
    assert (conv_text.optim.name, conv_text.net.pool_indices, conv_text.net.init) == (
        "adam", "current", "glorot")
    conv_bp = rows["MNIST Conv BP"].config
    assert conv_bp.optim.name == "adamw" and conv_bp.net.readout_lag == 0
    s8 = {r.label: r for r in get_rows("figS8")}["P=0.2"]  # Layered_LN+_AGT_P halves the rate
    code8, text8 = s8.config, s8.variants["text"]  # the code's reading is the default (it drew the figure)
    assert s8.reading == "code"
    assert (code8.optim.lr, code8.rule.nudge, code8.net.agt_draw) == (5e-4, "accumulating", "ordered")
    assert (text8.rule.nudge, text8.net.agt_draw) == ("constant", "unordered")
    assert rows["CIFAR-10 5-symm BP"].config.data.dataset == "cifar10"
    assert rows["CIFAR-10 5-symm BP"].config.optim.lr == 2e-4
    cifar_conv = rows["CIFAR-10 Conv Ours"].config
    assert (cifar_conv.net.channels, cifar_conv.net.kernel, cifar_conv.optim.scheduler) == (
        (32, 64, 128), 3, "cosine")
    graphs = {p.config.net.topology_seed: p.config.net.graph()
              for p in plan("table2", "paper", rows=["MNIST 10-asymm Ours-AGT"], seeds=[0, 1])}
    assert set(graphs) == {0, 1} and graphs[0] != graphs[1]  # each seed its own graph
    s1 = {r.label: r for r in get_rows("tableS1")}
    assert len(s1) == 65 and s1["2HL-symm beta=4"].paper.test_acc == 40.92
    assert s1["conv-symm beta=1"].config.net.beta == (1.0,)
    assert [r.config.net.agt_p for r in get_rows("figS8")] == [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0]


def test_provenance_page_is_generated_from_the_registry_and_current():
    from pathlib import Path

    from frecore.reporting.provenance import provenance_markdown

    page = provenance_markdown()
    committed = Path(__file__).resolve().parents[1] / "docs" / "provenance.md"
    assert committed.read_text() == page, "docs/provenance.md is stale: run `make docs`"
    for label in ("3HL Ours-DLR (tanh)", "Conv Ours (hard-sigmoid)", "MNIST 10-symm Ours-Residual",
                  "MNIST Conv Ours"):
        assert label in page
    assert "lr[-iL]: W_0 0.002, W_1 0.2, W_2 0.05, W_f 0.01" in page


@pytest.mark.parametrize("name", list_experiments())
def test_every_variant_differs_from_its_default_and_every_code_reading_cites_its_source(name):
    for row in get_rows(name):
        for variant, cfg in row.variants.items():
            assert variant in ("code", "text") and variant != row.reading
            assert cfg != row.config, f"{row.label}: variant {variant!r} is the default"
        if row.reading == "code":
            assert row.provenance and all(s.source for s in row.provenance)


@pytest.mark.parametrize("rows, seeds, expected", [
    ("2HL BP (tanh, Adam)", 5, (["2HL BP (tanh, Adam)"], [5])),
    (["a", "b"], "0 1", (["a", "b"], [0, 1])),
    (None, "3,4", (None, [3, 4])),
    (("a",), (1, 2), (["a"], [1, 2])),
])
def test_selection_coerces_what_papermill_passes(rows, seeds, expected):
    assert selection(rows, seeds) == expected


@pytest.mark.parametrize("rows, seeds", [(5, None), ([], None), (None, "one"), (None, 1.5), (None, [True]),
                                         (None, [])])
def test_selection_refuses_the_rest_with_one_message(rows, seeds):
    with pytest.raises(ConfigError, match="rows must|seeds must"):
        selection(rows, seeds)


def test_notebook_takes_a_row_label_and_an_int_seed_from_papermill(tmp_path, mnist_root):
    """`papermill -p rows "2HL BP (tanh, Adam)" -p seeds 5` (a str and an int) runs that one row, seed 5."""
    import papermill

    from frecore.reporting.store import load_runs
    from tests.conftest import REPO

    papermill.execute_notebook(str(REPO / "notebooks" / "table1.ipynb"), str(tmp_path / "out.ipynb"),
                               cwd=str(REPO / "notebooks"), progress_bar=False, kernel_name="python3",
                               parameters={"profile": "smoke", "rows": "2HL BP (tanh, Adam)", "seeds": 5,
                                           "device": "cpu", "data_root": mnist_root,
                                           "out_dir": str(tmp_path)})
    runs = load_runs(tmp_path / "table1.csv")
    assert list(runs["row"]) == ["2HL BP (tanh, Adam)"] and list(runs["seed"]) == [5]


def test_run_ids_match_the_recorded_ones():
    """Every experiment's run ids, per profile (smoke, quick, paper) and variant (default, text, code),
    in plan order, equal tests/data/run_ids.json: a refactor of the registry keeps every results
    folder resumable. A deliberate change of a row (a setting, a label, their order) regenerates
    the file in the same commit: `.venv/bin/python -m tests.record_run_ids`."""
    from tests.record_run_ids import PATH, run_ids

    recorded = json.loads(PATH.read_text())
    current = run_ids()
    assert sorted(current) == sorted(recorded), \
        "experiments added or removed: regenerate tests/data/run_ids.json"
    for name in recorded:
        for profile, variants in recorded[name].items():
            for variant, ids in variants.items():
                assert current[name][profile][variant] == ids, f"{name} {profile} {variant}: run ids changed"


def _makefile_figures() -> set[str]:
    """The Makefile's FIGURES: notebooks computed directly, not sweeps of a registered experiment."""
    line = next(ln for ln in (REPO / "Makefile").read_text().splitlines() if ln.startswith("FIGURES :="))
    return set(line.split(":=", 1)[1].split("#", 1)[0].split())


def test_every_experiment_has_a_notebook_and_every_sweep_notebook_an_experiment():
    """Adding a table is a registry module and a notebook of the same name; the Makefile finds both."""
    notebooks = {p.stem: p for p in (REPO / "notebooks").glob("*.ipynb")}
    figures = _makefile_figures()
    assert figures and figures <= set(notebooks)
    assert set(notebooks) - figures == set(list_experiments(studies=False))
    # each notebook sweeps its own experiment, not a copied one's
    for name in list_experiments(studies=False):
        cells = json.loads(notebooks[name].read_text())["cells"]
        code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert f'run_experiment("{name}"' in code, name


def test_every_study_has_a_make_target():
    """`make <study>` runs and reports each registered study (no notebook: no figure of the paper)."""
    line = next(ln for ln in (REPO / "Makefile").read_text().splitlines() if ln.startswith("STUDIES :="))
    studies = set(list_experiments()) - set(list_experiments(studies=False))
    assert studies and set(line.split(":=", 1)[1].split("#", 1)[0].split()) == studies


def test_experiments_are_found_in_their_modules_and_registered_once():
    """Discovery imports every table module of frecore.experiments; none lives in registry or common,
    and a second function under a registered name is refused."""
    for experiment in EXPERIMENTS.values():
        package, module = experiment.rows.__module__.rsplit(".", 1)
        assert package == "frecore.experiments" and module not in ("registry", "common")

    def table1():
        return []
    with pytest.raises(ConfigError, match="'table1' is registered twice"):
        register_experiment(table1)
    assert EXPERIMENTS["table1"].rows.__module__ == "frecore.experiments.table1"


def test_importing_the_registry_loads_no_torch():
    code = "import sys, frecore.experiments; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


APPENDIX = ("figS1", "figS2", "figS3", "figS4", "figS5", "figS6", "figS7")


@pytest.mark.parametrize("profile", list(PROFILES))
def test_appendix_figures_plan_table_s1s_runs_and_train_no_config_twice(profile):
    """Figures S1-S7 draw Table S1's (Figure S4's panel a: Table 1's) runs: each of their planned runs
    is one of those tables' runs, same config and run id; across Table S1, S1, S2 and S3 one config
    is one run id (so one training, recorded once in tableS1.csv, with Table S1's probe)."""
    owned = {p.run_id: p for name in ("tableS1", "table1") for p in plan(name, profile)}
    for name in APPENDIX:
        runs = plan(name, profile)
        assert runs
        for p in runs:
            assert p.experiment in ("tableS1", "table1") and p.run_id in owned, (name, p.row.label)
            assert owned[p.run_id].config == p.config
    ids_by_config: dict[str, set[str]] = {}
    for name in ("tableS1", "figS1", "figS2", "figS3"):
        for p in plan(name, profile):
            ids_by_config.setdefault(json.dumps(p.config.to_dict(), sort_keys=True, default=str),
                                     set()).add(p.run_id)
    assert all(len(ids) == 1 for ids in ids_by_config.values())
    s3 = {p.run_id for p in plan("figS3", profile)}
    assert s3 == {p.run_id for p in plan("figS1", profile)} | {p.run_id for p in plan("figS2", profile)}
    assert EXPERIMENTS["tableS1"].probe == "lyapunov"


def test_only_the_cells_of_figures_s5_s7_store_the_per_neuron_error():
    """Every Table S1 run measures FTMLE and MLE (`lyapunov`); only the cells Figures S5-S7 draw carry
    the `appendix` probe, which adds the per-neuron error (~90 MB of CSV over the paper profile if
    every cell stored it). The trainer measures each run with its row's probe, a figure's shared row too."""
    from frecore.analysis.probes import PROBES
    from frecore.sweeps.trainer import RunTrainer

    figure_cells = {r.label for name in ("figS5", "figS6", "figS7") for r in get_rows(name)}
    assert len(figure_cells) == 11
    assert {r.label for r in get_rows("tableS1") if r.probe == "appendix"} == figure_cells
    assert {r.probe for r in get_rows("tableS1") if r.label not in figure_cells} == {None}
    assert all(r.probe == "appendix" for name in ("figS5", "figS6", "figS7") for r in get_rows(name))
    trainer = RunTrainer(probe="lyapunov", probes={"tableS1": "lyapunov"})
    names = {p.row.label: trainer.probe_name(p) for p in plan("figS3", "smoke") + plan("figS5", "smoke")}
    assert names["2HL-symm beta=0.1"] == "appendix" and names["2HL-symm beta=0.01"] == "lyapunov"
    assert getattr(PROBES["appendix"], "reads_last_batch", False)
    assert not getattr(PROBES["lyapunov"], "reads_last_batch", False)


def test_appendix_figures_show_the_papers_panels():
    labels = {name: [r.label for r in get_rows(name)] for name in APPENDIX}
    assert len(labels["figS1"]) == len(labels["figS2"]) == 28 and len(labels["figS3"]) == 56
    assert all("-symm" in label
               for label in labels["figS1"]) and all("-asymm" in label for label in labels["figS2"])
    assert labels["figS4"] == ["Conv P-EP (hard-sigmoid)", "conv-symm beta=0.01", "conv-symm beta=0.1",
                               "conv-symm beta=1"]
    assert labels["figS5"] == [f"2HL-symm beta={b}" for b in ("0.001", "0.1", "1", "2")]
    assert labels["figS6"] == [f"10HL-symm beta={b}" for b in ("0.001", "0.1", "1", "2")]
    assert labels["figS7"] == [f"10HL-Residual-symm beta={b}" for b in ("0.01", "0.1", "1")]
    from frecore.experiments.registry import shared_rows
    with pytest.raises(ConfigError, match="tableS1 has no row"):
        shared_rows("tableS1", ["4HL-symm beta=1"])


def test_a_shared_run_trains_once_and_is_recorded_in_its_owners_csv(tmp_path, mnist_root):
    """Figure S5 trains a Table S1 cell: it lands in tableS1.csv with the appendix probe, and Table S1's
    sweep (and Figure S1's) then finds it done: nothing is trained twice."""
    from frecore.reporting.store import load_runs
    from frecore.sweeps.driver import run_experiment

    cell = "2HL-symm beta=0.1"
    kw = dict(profile="smoke", rows=[cell], device="cpu", data_root=mnist_root, out_dir=str(tmp_path),
              progress=False, executor="inprocess")
    out = run_experiment("figS5", **kw)
    assert out.runs_csv == tmp_path / "tableS1.csv" and not (tmp_path / "figS5.csv").exists()
    runs = load_runs(tmp_path / "tableS1.csv")
    assert list(runs["row"]) == [cell] and list(runs["experiment"]) == ["tableS1"]
    probe = json.loads(runs["history"].iloc[0])[-1]["probe"]
    assert {"ftmle", "mle", "neuron_error"} <= set(probe) and len(probe["neuron_error"]) == 64 + 64 + 10
    for name in ("tableS1", "figS1"):
        again = run_experiment(name, **kw)
        assert len(load_runs(tmp_path / "tableS1.csv")) == 1 and int(again.summary["n"].iloc[0]) == 1
    assert (tmp_path / "figS5_smoke.png").exists() and (tmp_path / "figS1_smoke_summary.csv").exists()


def test_rows_carry_coordinates_that_agree_with_their_configs():
    """Plots read a row's place in its figure from Row.coords (summary columns), never from its label:
    every coordinate must be what the row's config runs."""
    import math

    from frecore.experiments import get_rows, list_experiments

    read = {"beta_i": lambda c: c.net.beta[0], "alpha_i": lambda c: c.net.alpha[0],
            "depth": lambda c: len(c.net.hidden), "T": lambda c: c.rule.free_steps,
            "P": lambda c: c.net.agt_p, "n_ll": lambda c: c.optim.train_last,
            "weight_std": lambda c: c.noise.weight_std, "state_std": lambda c: c.noise.state_std}
    needs = {"tableS1": {"beta_i", "depth"}, "fig4": {"alpha_i", "beta_i", "depth"}, "fig5": {"beta_i"},
             "fig6": {"beta_i", "depth", "T"}, "figS8": {"P"}, "figS11": {"beta_i", "n_ll"},
             "figS12": {"weight_std", "state_std", "depth"}}
    checked = 0
    for name in list_experiments():
        for row in get_rows(name):
            assert needs.get(name, set()) <= set(row.coords), (name, row.label)
            for key, value in row.coords.items():
                if not (isinstance(value, float) and math.isnan(value)):  # a conv cell has no depth
                    assert value == read[key](row.config), (name, row.label, key)
                    checked += 1
    assert checked > 300


def test_a_dtype_reading_plans_every_row_in_that_precision_beside_the_default(tmp_path, mnist_root, capsys):
    """run --dtype float64: each row in float64 as '<reading>+float64' (its own run ids), summarised on a
    line of its own beside the float32 default; the registered precision asked for changes nothing."""
    from frecore.cli import main
    from frecore.sweeps.driver import run_experiment

    default = {p.row.label: p for p in plan("table2", "smoke", seeds=[0])}
    wide = {p.row.label: p for p in plan("table2", "smoke", seeds=[0], dtype="float64")}
    assert set(wide) == set(default)
    for label, p in wide.items():
        assert p.config.net.dtype == "float64" and p.reading == f"{default[label].reading}+float64"
        assert p.run_id != default[label].run_id
    assert [p.run_id for p in plan("table2", "smoke", seeds=[0], dtype="float32")] == \
        [p.run_id for p in default.values()]
    with pytest.raises(ConfigError, match="unknown dtype 'float16'"):
        plan("table2", "smoke", dtype="float16")
    assert main(["run", "table2", "--profile", "smoke", "--dtype", "half", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown dtype 'half'") and err.count("\n") == 1
    row = "MNIST 5-symm BP"
    for dtype in (None, "float64"):
        out = run_experiment("table2", "smoke", rows=[row], seeds=[0], device="cpu", data_root=mnist_root,
                             out_dir=str(tmp_path), progress=False, dtype=dtype)
    lines = out.summary.set_index("reading")
    reading = default[row].reading
    assert set(lines.index) == {reading, f"{reading}+float64"}
    assert lines.loc[reading, "n"] == 1 == lines.loc[f"{reading}+float64", "n"]
    assert lines.loc[f"{reading}+float64", "approach"].endswith(f"[{reading}+float64]")
    assert json.loads(out.runs["config"].iloc[0])["net"]["dtype"] == "float64"
