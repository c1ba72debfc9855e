"""Command line: `python -m frecore train|run|list|report|evaluate|...` (`--help` lists them).

Bad input (unknown rule, activation, dataset, experiment; negative or non-finite scales;
T or K below 1; a malformed layer list; missing data) stops with one message and exit code 2.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Sequence

from frecore.config import DEVICES, ConfigError, RunConfig
from frecore.config.flags import add_config_flags, config_from_flags
from frecore.training.data import MissingDataError
from frecore.training.train import Deadline
from frecore.experiments import PROFILES, READINGS, list_experiments
from frecore.reporting.paths import check_writable_dir, check_writable_file

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


def _add_train_args(p: argparse.ArgumentParser) -> None:
    """Every config field as a flag (frecore.config.flags), then what a single run does with its result."""
    add_config_flags(p)
    g = p.add_argument_group("output")
    g.add_argument("--out", default=None,
                   help="write the run's result (config, history, status) as JSON here")
    g.add_argument("--save-model", metavar="PATH", default=None,
                   help="save the trained net here (its config, weights, test accuracy); "
                        "`python -m frecore evaluate PATH` or frecore.load_model(PATH) reloads it")
    g.add_argument("--save-best-model", metavar="PATH", default=None,
                   help="save the net of the run's best epoch (the paper's protocol reports it) here, as "
                        "--save-model")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--dry-run", action="store_true", help="check every setting, print the config and stop")


config_from_args = config_from_flags  # the RunConfig of `train`'s parsed flags


def check_trainable(cfg: RunConfig) -> None:
    """What fit checks before it allocates anything, without loading data: the rule can train this
    net, the conv maps do not vanish, the net fits in memory. ConfigError otherwise."""
    from frecore.model.build import check_input
    from frecore.training.data import INPUT_SHAPES
    from frecore.training.resources import check_fits
    from frecore.rules import build_rule
    from frecore.training.train import resolve_device

    build_rule(cfg.rule).check(cfg.net)
    shape, n_classes = INPUT_SHAPES[cfg.data.dataset]
    check_input(cfg.net, shape)
    check_fits(cfg, shape, n_classes, resolve_device(cfg.device))
    check_layer_lists(cfg, shape, n_classes)


def check_layer_lists(cfg: RunConfig, shape: tuple[int, ...], n_classes: int) -> None:
    """Per-layer --lr / --weight-decay lists and --train-last against the net's weight matrices,
    counted on a net built on torch's meta device (no memory, no init cost): what the optimiser
    would refuse once training starts, refused by --dry-run too."""
    import torch

    from frecore.rules import build_rule
    from frecore.training.train import parameter_groups

    try:
        net = build_rule(cfg.rule).build_net(cfg.net, shape, n_classes, torch.Generator().manual_seed(0),
                                             torch.device("meta"))
    except (RuntimeError, NotImplementedError):  # a net that cannot live on meta: fit checks it at start
        return
    parameter_groups(cfg, net.layer_params())


def cmd_train(a: argparse.Namespace) -> int:
    from frecore.training.loop import fit

    cfg = config_from_args(a)
    check_trainable(cfg)
    if a.out:
        check_writable_file(a.out, what="--out")  # before training, not after it
    for path, flag in ((a.save_model, "--save-model"), (a.save_best_model, "--save-best-model")):
        if path:
            check_writable_file(path, what=flag)
    if a.dry_run:
        print(json.dumps(cfg.to_dict(), indent=1))
        return 0
    result = fit(cfg, progress=not a.no_progress, keep_best=bool(a.save_best_model))
    print(f"status {result.status}  best test {result.best_test_acc:.2f}%  final test "
          f"{result.final_test_acc:.2f}%  best train {result.best_train_acc:.2f}%  wall {result.wall_s:.1f}s "
          f"on {result.device}" + (f"  ({result.message})" if result.message else ""))
    if a.save_model:
        from frecore.training.saved import save_model

        print(f"saved the net to {save_model(a.save_model, result)}")
    if a.save_best_model and result.best_state is not None:
        from frecore.training.saved import save_model

        print(f"saved the net of its best epoch to {save_model(a.save_best_model, result, best=True)}")
    if a.out:
        Path(a.out).write_text(json.dumps({
            "config": cfg.to_dict(), "status": result.status, "message": result.message,
            "best_test_acc": result.best_test_acc, "final_test_acc": result.final_test_acc,
            "wall_s": result.wall_s, "device": result.device, "history": result.history_dicts()}, indent=1))
    return 0


def cmd_run(a: argparse.Namespace) -> int:
    from frecore.sweeps.executors import get_executor
    from frecore.reporting.markdown import markdown_table
    from frecore.sweeps.driver import run_experiment

    if a.save_models:
        check_writable_dir(a.save_models, what="--save-models")  # before any training
    if a.budget is not None:
        from frecore.sweeps.campaign import parse_budget

        until = time.time() + parse_budget(a.budget)
    else:
        until = None
    if a.no_download:  # before anything else: no download is tried, nothing is created under the root
        from frecore.experiments import plan
        from frecore.training.data import require_data

        planned = plan(a.experiment, a.profile, rows=a.rows, seeds=a.seeds, device=a.device,
                       data_root=a.data_root, variant=a.variant, estimator=a.estimator, dtype=a.dtype)
        require_data({p.config.data for p in planned})
    executor = get_executor(a.executor, address=a.address, cpus_per_run=a.cpus_per_run,
                            gpus_per_run=a.gpus_per_run, side_by_side=a.side_by_side, device=a.device)
    try:
        out = run_experiment(a.experiment, profile=a.profile, rows=a.rows, seeds=a.seeds, device=a.device,
                             data_root=a.data_root, out_dir=a.out_dir, progress=not a.no_progress,
                             variant=a.variant, executor=executor, save_models=a.save_models,
                             estimator=a.estimator, dtype=a.dtype, until=until)
    except KeyboardInterrupt:  # every finished run is already recorded: say so, not a traceback
        print(f"\ninterrupted: the finished runs are recorded in {a.out_dir}; the same command resumes",
              file=sys.stderr)
        return 130
    print(markdown_table(out.summary))
    print(f"\nwrote {out.runs_csv}, {out.summary_csv}, {out.plot_png}")
    if out.paused:
        print(f"{len(out.paused)} run(s) paused by --budget; the same command continues them from their "
              f"checkpoints")
    return 0


def cmd_campaign(a: argparse.Namespace) -> int:
    import re

    from frecore.experiments.campaign import QUEUES
    from frecore.sweeps.campaign import parse_budget, run_campaign

    if a.queue not in QUEUES:
        raise ConfigError(f"unknown queue {a.queue!r}; choose one of: {', '.join(QUEUES)}")
    entries = QUEUES[a.queue]
    if a.entries:
        try:
            pattern = re.compile(a.entries)
        except re.error as exc:
            raise ConfigError(f"--entries is not a regular expression ({exc}): {a.entries!r}") from None
        entries = tuple(e for e in entries if pattern.search(e.key))
        if not entries:
            raise ConfigError(f"--entries {a.entries!r} matches no entry of the {a.queue} queue")
    if a.standing:
        from frecore.reporting.markdown import update_readme_block
        from frecore.sweeps.campaign import standing

        check_readme_block(a.standing, "campaign-standing", what="--standing")
        update_readme_block(a.standing, "campaign-standing",
                            f"Generated by `python -m frecore campaign --standing {a.standing}` from "
                            f"`{a.out_dir}/` (the results CSVs and the committed checkpoints).\n\n"
                            + standing(entries, a.out_dir, a.data_root))
        print(f"wrote the campaign's standing into {a.standing}")
        return 0
    budget_s = parse_budget(a.budget)
    stop = Deadline()
    try:
        with stop_on_signal(stop):
            run_campaign(entries, budget_s=budget_s, out_dir=a.out_dir, threads=a.threads,
                         data_root=a.data_root, device=a.device, progress=not a.no_progress,
                         dry_run=a.dry_run, stop=stop)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are recorded in {a.out_dir} and every finished epoch is "
              f"checkpointed in {a.out_dir}/campaign/checkpoints; the same command continues",
              file=sys.stderr)
        return 130
    return 0


@contextlib.contextmanager
def stop_on_signal(stop: Deadline):
    """SIGTERM or SIGINT stops `stop`: the campaign pauses after the epoch in progress, checkpointed and
    timed, and exits 0. A later SIGINT (Ctrl-C again, a second or more after the first signal) stops at
    once, that epoch lost; a repeated SIGTERM does not (make and `timeout` pass one on to the process
    that already got it). SIGINT is taken even where it was ignored: a campaign started with `&` from
    a script ignores it otherwise."""
    import signal

    first: list[float] = []

    def handler(signum: int, frame) -> None:
        if stop.stopped:
            if signum == signal.SIGINT and time.monotonic() - first[0] > 1.0:
                raise KeyboardInterrupt
            return
        stop.stop()
        first.append(time.monotonic())
        # os.write, not print: the signal may have interrupted a write to stderr (a progress bar)
        os.write(2, f"\n{signal.Signals(signum).name}: stopping after the epoch in progress (it is "
                    f"checkpointed); Ctrl-C again to stop at once, losing it\n".encode())

    before = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in before.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def cmd_plan(a: argparse.Namespace) -> int:
    from frecore.experiments import get_experiment, plan, selection
    from frecore.sweeps.progress import CHECKOUT_RESULTS, sweep_plan

    get_experiment(a.experiment)  # an unknown name fails here
    rows, seeds = selection(a.rows, a.seeds)
    planned = plan(a.experiment, a.profile, rows=rows, seeds=seeds, device=a.device, data_root=a.data_root,
                   variant=a.variant, estimator=a.estimator, dtype=a.dtype)
    bill = sweep_plan(a.experiment, a.profile, a.out_dir, planned, device=a.device,
                      reference=a.reference or CHECKOUT_RESULTS)
    if a.fresh and bill.reused:
        raise ConfigError(f"--fresh: {a.out_dir} already holds {len(bill.reused)} of the {len(planned)} "
                          f"{a.profile} runs of {a.experiment}; choose an empty folder (RESULTS=...), "
                          f"or leave out --fresh (FRESH=1) to resume from them")
    print("\n".join(bill.lines()), flush=True)
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    from frecore.experiments import get_experiment, get_rows
    from frecore.reporting.markdown import format_mean_std

    for name in list_experiments():
        print(name + (" (a study beyond the paper: no notebook)" if get_experiment(name).study else ""))
        for row in get_rows(name):
            paper = (f"paper {format_mean_std(row.paper.test_acc, row.paper.test_std)} ({row.paper.protocol})"
                     if row.paper else "no paper value")
            readings = f"; reading {row.reading}" + (
                f" (variants: {', '.join(sorted(row.variants))})" if row.variants else "")
            print(f"  {row.label!r}: {paper}{readings}")
    return 0


def _claims(name: str, profile: str, out_dir: str, summary) -> list[str]:
    """The claim lines of an appendix figure (frecore.reporting.appendix.figure_claims), from the runs
    its summary counts, read from the CSVs of the experiments that own them; [] for other experiments."""
    from frecore.experiments import plan
    from frecore.reporting.appendix import CLAIMED, figure_claims
    from frecore.sweeps.driver import load_recorded, runs_csvs

    if name not in CLAIMED:
        return []
    csvs = [c for c in runs_csvs(name, plan(name, profile), out_dir, profile).values() if c.exists()]
    if not csvs:
        return []
    return [c.line() for c in figure_claims(name, load_recorded(csvs), summary)]


def cmd_merge(a: argparse.Namespace) -> int:
    from frecore.sweeps.merge import merge_results

    check_writable_dir(a.out_dir)
    print(merge_results(a.source, a.out_dir, a.queue).describe())
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from frecore.experiments import get_experiment
    from frecore.reporting.markdown import (headline_table, markdown_table, results_page, update_readme_block,
                                            with_protocol)
    from frecore.reporting.summary import load_summary
    from frecore.sweeps.driver import output_paths, resummarise

    experiment = get_experiment(a.experiment)  # an unknown name fails here, before any file is read
    if a.profile not in PROFILES:
        raise ConfigError(f"unknown profile {a.profile!r}; choose one of: {', '.join(PROFILES)}")
    runs_csv, path, _ = output_paths(a.out_dir, a.experiment, a.profile)
    # a figure of shared runs reads their CSVs
    owners = sorted({r.owner for r in experiment.rows() if r.owner})
    if owners:
        runs_csv = next((c for c in (output_paths(a.out_dir, e, a.profile)[0] for e in owners) if c.exists()),
                        output_paths(a.out_dir, owners[0], a.profile)[0])
    if a.update_readme:  # checked before any work: a README without the block is the user's to fix
        check_readme_block(a.update_readme, a.experiment)
    if a.page:
        check_writable_file(a.page, what="--page")
    if a.resummarise:
        resummarise(a.experiment, a.profile, out_dir=a.out_dir)
    summary = load_summary(path)
    if summary is None:  # missing or damaged: rebuild it from the recorded runs where there are any
        if not runs_csv.exists():
            raise ConfigError(f"no {a.profile} results for {a.experiment} in {a.out_dir}; run "
                              f"`python -m frecore run {a.experiment} --profile {a.profile}` first")
        print(f"note: {path} is missing or damaged; rebuilt from {runs_csv}", file=sys.stderr)
        resummarise(a.experiment, a.profile, out_dir=a.out_dir)
        summary = load_summary(path)
        if summary is None:
            raise ConfigError(f"no {a.profile} runs of {a.experiment} recorded in {runs_csv}")
    if a.profile != "paper":  # the campaign's paper-profile numbers beside this profile's
        summary = with_protocol(summary, load_summary(output_paths(a.out_dir, a.experiment, "paper")[1]))
    table = markdown_table(summary)
    if a.page:
        doc = " ".join((experiment.rows.__doc__ or a.experiment).split())
        title = re.split(r"(?<=\.)\s+(?=[A-Z(])", doc)[0]  # its first sentence, however it is wrapped
        Path(a.page).write_text(results_page(a.experiment, summary, path.as_posix(), title,
                                             claims=_claims(a.experiment, a.profile, a.out_dir, summary),
                                             profile=a.profile, page=Path(a.page).as_posix()))
    if a.update_readme:
        update_readme_block(a.update_readme, a.experiment,
                            f"Profile: `{a.profile}`; generated by `python -m frecore report {a.experiment} "
                            f"--update-readme README.md` from `{path.as_posix()}`; every reading, time and "
                            f"device: [docs/results/{a.experiment}.md](docs/results/{a.experiment}.md).\n\n"
                            f"{headline_table(summary)}")
    print(table)
    return 0


def check_readme_block(readme: str, name: str, what: str = "--update-readme") -> None:
    if not Path(readme).is_file():  # not created: the block must already be there
        raise ConfigError(f"{what}: {readme} is not a file; give a page that has a "
                          f"<!-- {name}:start --> ... <!-- {name}:end --> block")
    path = check_writable_file(readme, what=what)
    text = path.read_text(errors="replace")
    if f"<!-- {name}:start -->" not in text or f"<!-- {name}:end -->" not in text:
        raise ConfigError(f"{what}: {readme} has no <!-- {name}:start --> ... <!-- {name}:end --> block")


def cmd_provenance(a: argparse.Namespace) -> int:
    from frecore.reporting.provenance import provenance_markdown

    text = provenance_markdown()
    if a.out:
        check_writable_file(a.out, what="--out").write_text(text)
        print(f"wrote {a.out}")
    else:
        print(text, end="")
    return 0


def cmd_estimators(a: argparse.Namespace) -> int:
    import pandas as pd

    from frecore.reporting.store import write_csv
    from frecore.sweeps.estimator_study import digest, measure

    out = check_writable_file(a.out, what="--out")  # both files before measuring, not after
    summary_csv = check_writable_file(out.with_name(out.stem + "_summary.csv"),
                                      what="the summary beside --out")
    points, summary = measure(a.nets.split(","), batch=a.batch, betas=a.betas, stages=a.stages.split(","),
                              data_root=a.data_root, cache=a.cache, cost=not a.no_cost,
                              say=lambda line: print(line, file=sys.stderr))
    write_csv(points, out)
    write_csv(summary, summary_csv)
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_rows", 500):
        print(digest(summary).to_string(index=False, float_format="%.3g"))
        if "stage" in summary and (summary.stage == "cost").any():
            cost = summary[summary.stage == "cost"].dropna(axis=1, how="all")
            print(cost.to_string(index=False, float_format="%.3g"))
    print(f"wrote {out} and {summary_csv}", file=sys.stderr)
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from frecore.training.saved import load_model

    model = load_model(a.model, device=a.device)
    acc = model.evaluate(data_root=a.data_root)
    cfg = model.config
    print(f"{a.model}: {cfg.rule.name} on {cfg.net.arch} {cfg.data.dataset}, seed {cfg.seed}, "
          f"{model.epochs_run} epochs; test accuracy {acc:.2f}% (recorded {model.test_acc:.2f}%)")
    return 0


def cmd_notebook(a: argparse.Namespace) -> int:
    from frecore.reporting.notebook import execute_notebook, parameter_value

    execute_notebook(a.source, a.executed, {k: parameter_value(v) for k, v in a.parameter}, cwd=a.cwd,
                     log_output=a.log_output)
    return 0


def cmd_strip_notebook(a: argparse.Namespace) -> int:
    from frecore.reporting.notebook import strip_notebook_file

    for path in a.notebooks:
        strip_notebook_file(path, root=a.root)
    return 0


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line (`prog: error: ...`), exit code 2 as before."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m frecore", description="FRE-RNN trained by equilibrium propagation.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one net with one rule",
                       description="Train one net with one rule.")
    _add_train_args(t)
    t.set_defaults(func=cmd_train)
    r = sub.add_parser(
        "run", help="run a paper experiment (resumes)",
        description="Run a registered experiment; finished runs in the results CSV are skipped.")
    r.add_argument("experiment", help=f"one of {', '.join(list_experiments())}")
    r.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default: %(default)s)")
    r.add_argument("--rows", nargs="+", default=None, help="only these row labels")
    r.add_argument("--seeds", type=int, nargs="+", default=None, help="override the profile's seeds")
    r.add_argument("--variant", default=None,
                   help=f"which reading of each row: default (what produced the paper's number), "
                        f"{', '.join(READINGS)} (rows without that reading run their default)")
    r.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)}")
    r.add_argument("--data-root", default=None, help="dataset folder (default: $FRECORE_DATA, else ./data)")
    r.add_argument("--no-download", action="store_true",
                   help="never try to download: a missing dataset is one error before any run starts")
    r.add_argument("--out-dir", default="results")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--estimator", default=None,
                   help="run the EP rows with this estimator of EP's update (centered, random-sign) instead "
                        "of the paper's one-sided one, as the reading '<reading>+<estimator>' beside the "
                        "default (docs/readings.md); other rows run as registered")
    r.add_argument("--dtype", default=None,
                   help="run every row in this precision (float64, float32) instead of its registered one, "
                        "as the reading '<reading>+<dtype>' beside the default: Table 2's plain 10-layer "
                        "chain needs float64 on a CPU (docs/readings.md)")
    r.add_argument("--save-models", metavar="DIR", default=None,
                   help="keep the final and the best-epoch net of each run trained now as DIR/<run_id>.pt "
                        "and DIR/<run_id>.best.pt (frecore.load_model)")
    r.add_argument("--budget", default=None,
                   help="wall-clock limit (150m, 2.5h, 90s): after a run's first epoch, no epoch starts "
                        "that would end after it (judged by the last epoch's time), and no further run "
                        "starts once it has passed; a run cut so is not recorded, its per-epoch checkpoint "
                        "(OUT_DIR/.checkpoints) continues it when the same command runs again (a GPU lent "
                        "for minutes; its epochs are printed as they end)")
    r.add_argument("--side-by-side", action="store_true",
                   help="train runs that can share a pass (EP, BP on layered or conv nets, FA, LRA, P-EP on "
                        "layered ones, differing in seed, alpha_i, beta_i, noise std, lr, weight decay, AGT "
                        "graph, layered EP's beta_f) side by side, one row each; the same as --executor "
                        "side-by-side (bench/ensemble.py measures the gain)")
    r.add_argument("--executor", default="auto",
                   help="where runs train: auto (side-by-side on CUDA, else inprocess), inprocess (one after "
                        "another here), side-by-side (groups of runs as one pass here) or ray (one Ray task "
                        "per run; pip install -e '.[ray]'; docs/scale-out.md) (default: %(default)s)")
    r.add_argument("--address", default=None,
                   help="ray: the cluster to join, e.g. auto or HEAD_IP:6379 (default: $RAY_ADDRESS, else a "
                        "local Ray)")
    r.add_argument("--cpus-per-run", type=float, default=1.0,
                   help="ray: CPUs each run's task declares (default: 1)")
    r.add_argument("--gpus-per-run", type=float, default=None,
                   help="ray: GPU share each run's task declares (default: 0.25 on a cluster with GPUs, else "
                        "0)")
    r.set_defaults(func=cmd_run)
    c = sub.add_parser("campaign", help="train the paper-profile queue under a time budget (banked across "
                                        "sessions)",
                       description="Train the campaign's queue (frecore/experiments/campaign.py) in the "
                                   "paper's protocol: a unit starts only when its estimated time fits the "
                                   "budget left; every epoch is checkpointed in OUT_DIR/campaign/checkpoints "
                                   "(commit it), so the next campaign continues exactly.")
    c.add_argument("--budget", default="150m",
                   help="wall-clock budget: 150m, 2.5h, 90s (default: %(default)s)")
    c.add_argument("--threads", type=int, default=1,
                   help="torch threads (default: 1, so foreground work keeps the other core; "
                        "docs/campaign.md)")
    c.add_argument("--queue", default="paper", help="paper (the campaign) or smoke (a small demo queue)")
    c.add_argument("--entries", default=None, metavar="REGEX",
                   help="only the entries whose key matches REGEX")
    c.add_argument("--dry-run", action="store_true",
                   help="print the queue, what is done and the ETA; train nothing")
    c.add_argument("--standing", default=None, metavar="PAGE",
                   help="rewrite the <!-- campaign-standing:start/end --> block of PAGE (docs/campaign.md) "
                        "with each entry's numbers so far beside the paper's; train nothing")
    c.add_argument("--device", default="cpu", help=f"one of {', '.join(DEVICES)} (default: %(default)s)")
    c.add_argument("--data-root", default=None, help="dataset folder (default: $FRECORE_DATA, else ./data)")
    c.add_argument("--out-dir", default="results")
    c.add_argument("--no-progress", action="store_true")
    c.set_defaults(func=cmd_campaign)
    pl = sub.add_parser("plan", help="what `run` would train and reuse, and its estimated time",
                        description="Print an experiment's plan before training it: the runs to train, the "
                                    "runs already recorded in --out-dir (reused), and the time estimated "
                                    "from recorded runs (--out-dir's, then this checkout's results/).")
    pl.add_argument("experiment", help=f"one of {', '.join(list_experiments())}")
    pl.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILES)} (default: %(default)s)")
    pl.add_argument("--out-dir", default="results")
    pl.add_argument("--rows", nargs="+", default=None, help="only these row labels")
    pl.add_argument("--seeds", type=int, nargs="+", default=None, help="override the profile's seeds")
    pl.add_argument("--variant", default=None,
                    help=f"which reading of each row (default, {', '.join(READINGS)})")
    pl.add_argument("--estimator", default=None, help="the EP rows with this estimator (as run --estimator)")
    pl.add_argument("--dtype", default=None, help="every row in this precision (as run --dtype)")
    pl.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)}")
    pl.add_argument("--data-root", default=None,
                    help="as given to run (part of a run's identity; default: none)")
    pl.add_argument("--reference", default=None, metavar="DIR",
                    help="recorded runs to estimate from, after --out-dir's (default: this checkout's "
                         "results/)")
    pl.add_argument("--fresh", action="store_true",
                    help="refuse (exit 2) when --out-dir already holds any of the planned runs: a "
                         "from-scratch run")
    pl.set_defaults(func=cmd_plan)
    mg = sub.add_parser("merge", help="bring another results folder's runs, campaign timings and "
                                      "checkpoints into this one (a lent GPU's, another machine's)",
                        description="Add SOURCE's finished runs that --out-dir has not finished (keyed "
                                    "by run id: the device and data root are not part of it), the campaign "
                                    "timings it lacks and each campaign checkpoint of a unit left here that "
                                    "holds more epochs than ours; then rebuild the summaries touched. "
                                    "Finished runs here are never replaced; merging twice adds nothing.")
    mg.add_argument("source", help="the results folder to merge from")
    mg.add_argument("--out-dir", default="results")
    mg.add_argument("--queue", default="paper", help="the campaign queue whose checkpoints count (default: "
                                                     "%(default)s)")
    mg.set_defaults(func=cmd_merge)
    ls = sub.add_parser("list", help="list experiments and their rows")
    ls.set_defaults(func=cmd_list)
    rep = sub.add_parser("report", help="print an experiment's summary as a markdown table")
    rep.add_argument("experiment")
    rep.add_argument("--out-dir", default="results")
    rep.add_argument("--profile", default="quick",
                     help=f"whose summary, one of {', '.join(PROFILES)} (default: %(default)s)")
    rep.add_argument("--update-readme", metavar="README", default=None,
                     help="also replace the <!-- EXPERIMENT:start/end --> block of this file")
    rep.add_argument("--page", metavar="MD", default=None,
                     help="also write the experiment's results page (docs/results/EXPERIMENT.md): every "
                          "reading and the plot")
    rep.add_argument("--resummarise", action="store_true",
                     help="first recompute the summary and plot from the recorded runs (after a code update)")
    rep.set_defaults(func=cmd_report)
    pv = sub.add_parser("provenance", help="the settings-provenance page (paper text vs the authors' code "
                                           "per row)")
    pv.add_argument("--out", default=None, help="write it here (default: print it)")
    pv.set_defaults(func=cmd_provenance)
    es = sub.add_parser("estimators", help="measure EP's estimators against beta_f (bias vs the limit, BP)",
                        description="EP's one-sided, centered and random-sign updates against beta_f, in "
                                    "float64, on Table 1's 2HL-512, Table 2's 10-layer residual and Table "
                                    "1's conv nets, at init and after one trained epoch: the error against "
                                    "the beta_f -> 0 limit and against BP's gradient, its log-log slope, and "
                                    "each estimator's cost (frecore/sweeps/estimator_study.py; "
                                    "docs/readings.md).")
    es.add_argument("--nets", default="2hl,res10,conv",
                    help="comma-separated: 2hl, res10, conv (default: all)")
    es.add_argument("--batch", type=int, default=128, help="test images measured on (default: %(default)s)")
    es.add_argument("--betas", type=float, nargs="+", default=[0.1, 0.0316, 0.01, 0.00316, 0.001],
                    help="beta_f values, largest first (default: two decades)")
    es.add_argument("--stages", default="init,epoch1", help="init, epoch1 or both (default: %(default)s)")
    es.add_argument("--no-cost", action="store_true", help="skip the float32 cost per training batch")
    es.add_argument("--data-root", default=None,
                    help="dataset folder (default: $FRECORE_DATA, else ./data)")
    es.add_argument("--cache", default=".checkpoints/estimators",
                    help="where the one-epoch nets are kept between runs (default: %(default)s)")
    es.add_argument("--out", default="results/estimators.csv",
                    help="every point; the summary goes beside it as <name>_summary.csv "
                         "(default: %(default)s)")
    es.set_defaults(func=cmd_estimators)
    ev = sub.add_parser("evaluate", help="test accuracy of a saved model (train --save-model)",
                        description="Rebuild a saved net from its stored config and print its test accuracy "
                                    "beside the one recorded when it was saved.")
    ev.add_argument("model", metavar="PATH")
    ev.add_argument("--data-root", default=None,
                    help="dataset folder (default: the recorded one, else $FRECORE_DATA)")
    ev.add_argument("--device", default="cpu", help=f"one of {', '.join(DEVICES)} (default: %(default)s)")
    ev.set_defaults(func=cmd_evaluate)
    nb = sub.add_parser("notebook", help="run a notebook with papermill; bad input ends in one line",
                        description="Execute SOURCE into EXECUTED with papermill (what `make <experiment>` "
                                    "runs). A ConfigError or MissingDataError inside the notebook (a bad "
                                    "parameter, no dataset) ends the command with its message and exit 2, "
                                    "not a traceback.")
    nb.add_argument("source")
    nb.add_argument("executed")
    nb.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="a parameter, typed as papermill's -p types it")
    nb.add_argument("--cwd", default=None, help="the kernel's working directory")
    nb.add_argument("--log-output", action="store_true", help="stream the notebook's output as it runs")
    nb.set_defaults(func=cmd_notebook)
    sn = sub.add_parser("strip-notebook", help="drop an executed notebook's timings, counts and progress "
                                               "lines",
                        description="Rewrite executed notebooks without what changes between two runs that "
                                    "change no number (papermill timings, execution counts, progress lines; "
                                    "the checkout's absolute path made relative): make's copy under results/ "
                                    "stays unchanged.")
    sn.add_argument("notebooks", nargs="+", metavar="NOTEBOOK")
    sn.add_argument("--root", default=None, help="the checkout whose absolute path is made relative "
                                                 "(default: the cwd)")
    sn.set_defaults(func=cmd_strip_notebook)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, MissingDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader left (`... --dry-run | head`): what it read was all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 0
    except OSError as exc:  # a file-system fault nothing above named (a full disk, a wrong kind of file)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}; fix that path (space, permissions, file or folder) "
              f"and rerun the same command", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\ninterrupted: {args.command} stopped; what finished is recorded, nothing is half-written",
              file=sys.stderr)
        return EXIT_INTERRUPTED
