"""Figures S1-S7 from the recorded runs: per-epoch tables of the appendix probe and the check of each
figure's claims on our numbers (printed by the notebooks, claim by claim).

A verdict is 'holds', 'does not hold', 'not enough epochs' (the claim is about a trend over training
and the runs have too few epochs to show one, or it fails so far with fewer epochs than the paper
trained) or 'not measured' (no run, or runs recorded before the probe existed: rerun them).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_TREND_EPOCHS = 3  # a claim about how steadily accuracy rises needs at least this many epochs


@dataclass(frozen=True)
class Claim:
    figure: str
    claim: str  # the paper's words, short
    verdict: str  # holds | does not hold | not enough epochs | not measured
    numbers: str  # ours, as measured

    def line(self) -> str:
        return f"[{self.verdict}] {self.figure}: {self.claim} -- {self.numbers}"


def _coord(line: pd.Series, name: str) -> float:
    """A summary line's coordinate (Row.coords: beta_i, depth); NaN where its row has none (P-EP)."""
    value = line.get(name, math.nan)
    return math.nan if value is None or pd.isna(value) else float(value)


def epoch_table(runs: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """One line per (row, seed, epoch) of the summary's default-reading runs: arch, beta, depth, seed,
    epoch (0: before training, probe only), ftmle, mle, train_acc, test_acc, status."""
    lines = summary[summary["default_reading"].astype(bool)] if "default_reading" in summary else summary
    out = []
    for _, s in lines.iterrows():
        ids = set(str(s.get("run_ids", "") or "").split())
        for _, r in runs[runs["run_id"].isin(ids)].iterrows():
            base = {"row": s["row"], "arch": s["arch"], "beta": _coord(s, "beta_i"),
                    "depth": _coord(s, "depth"), "seed": int(r["seed"]), "status": r["status"]}
            before = json.loads(r["probe_before"]) if isinstance(r.get("probe_before"),
                                                                 str) and r["probe_before"] else {}
            out.append({**base, "epoch": 0, "ftmle": before.get("ftmle", math.nan),
                        "mle": before.get("mle", math.nan), "train_acc": math.nan, "test_acc": math.nan})
            for h in json.loads(r["history"]):
                p = h.get("probe", {})
                out.append({**base, "epoch": h["epoch"], "ftmle": p.get("ftmle", math.nan),
                            "mle": p.get("mle", math.nan), "train_acc": h["train_acc"],
                            "test_acc": h["test_acc"]})
    cols = ["row", "arch", "beta", "depth", "seed", "status", "epoch", "ftmle", "mle", "train_acc",
            "test_acc"]
    return pd.DataFrame(out, columns=cols)


def neuron_errors(runs: pd.DataFrame, summary: pd.DataFrame) -> dict[str, np.ndarray]:
    """row label -> (epochs, neurons) array of the per-neuron error of the row's first recorded seed
    (the paper draws one run), NaN where an epoch has none."""
    out = {}
    lines = summary[summary["default_reading"].astype(bool)] if "default_reading" in summary else summary
    for _, s in lines.iterrows():
        ids = set(str(s.get("run_ids", "") or "").split())
        mine = runs[runs["run_id"].isin(ids)].sort_values("seed")
        for _, r in mine.iterrows():
            errors = [h.get("probe", {}).get("neuron_error") for h in json.loads(r["history"])]
            if any(e is not None for e in errors):
                n = max(len(e) for e in errors if e is not None)
                out[s["row"]] = np.array([e if e is not None else [math.nan] * n
                                          for e in errors], dtype=float)
                break
    return out


def layer_means(error: np.ndarray, sizes: list[int]) -> np.ndarray:
    """(epochs, layers) mean |error| per layer (hidden layers from the input, the output last)."""
    bounds = np.cumsum([0] + sizes)
    return np.stack([np.abs(error[:, a:b]).mean(1) for a, b in zip(bounds[:-1], bounds[1:])], axis=1)


def layer_sizes(runs: pd.DataFrame, n_out: int = 10) -> list[int]:
    """Hidden sizes then the readout's, from a run's recorded config."""
    cfg = json.loads(runs["config"].iloc[0])
    return list(cfg["net"]["hidden"]) + [n_out]


def _epochs_note(t: pd.DataFrame, paper_epochs: int) -> tuple[int, bool]:
    n = int(t["epoch"].max()) if len(t) else 0
    return n, n < paper_epochs


def _verdict(ok: bool, short: bool) -> str:
    return "holds" if ok else ("not enough epochs" if short else "does not hold")


def _drops(curve: np.ndarray) -> float:
    """Sum of the falls of a test-accuracy curve (percentage points): 0 for a curve that never falls."""
    d = np.diff(curve[~np.isnan(curve)])
    return float(-d[d < 0].sum())


def _mean_curves(t: pd.DataFrame, col: str) -> pd.DataFrame:
    """(beta x epoch) mean over seeds of `col` for the epochs every seed reached."""
    return t.groupby(["beta", "epoch"])[col].mean().unstack("epoch")


def dynamics_claims(figure: str, t: pd.DataFrame, paper_epochs: int = 50) -> list[Claim]:
    """Figures S1-S2: smaller beta_i usually gives a smaller (FT)MLE; a larger one not always a larger
    one (tanh saturates). Measured after the last epoch, per depth, on the mean over seeds."""
    out = []
    if t.empty or t["ftmle"].isna().all():
        why = ("no runs recorded" if t.empty
               else "runs recorded without the probe (rerun them to measure FTMLE/MLE)")
        claims = ("smaller beta_i usually yields smaller (FT)MLE",
                  "larger beta_i does not always yield larger (FT)MLE")
        return [Claim(figure, c, "not measured", why) for c in claims]
    last = t[t["epoch"] == t["epoch"].max()]
    for key in ("ftmle", "mle"):
        pairs, smaller, per_depth, tops = 0, 0, [], []
        for arch, a in last.groupby("arch", sort=False):
            v = a.groupby("beta")[key].mean().dropna().sort_index()
            b = list(v.index)
            agree = sum(v[b[i]] < v[b[j]] for i in range(len(b)) for j in range(i + 1, len(b)))
            n = len(b) * (len(b) - 1) // 2
            pairs, smaller = pairs + n, smaller + agree
            per_depth.append(f"{arch} {agree}/{n}")
            tops.append((arch, float(v.idxmax()) if len(v) else math.nan, b[-1] if b else math.nan))
        share = smaller / pairs if pairs else math.nan
        out.append(Claim(figure, f"smaller beta_i usually yields smaller {key.upper()}",
                         "holds" if share > 0.5 else "does not hold",
                         f"after epoch {int(t['epoch'].max())}: {smaller}/{pairs} beta_i pairs ordered so "
                         f"({share:.0%}); per depth {', '.join(per_depth)}"))
        not_top = [f"{a}: max at beta_i={m:g}" for a, m, largest in tops if m != largest]
        out.append(Claim(figure, f"larger beta_i does not always yield larger {key.upper()} (saturation)",
                         "holds" if not_top else "does not hold",
                         "; ".join(not_top) if not_top else "every depth peaks at the largest beta_i"))
    return out


def maxima(t: pd.DataFrame) -> pd.DataFrame:
    """Figure S3's points: per (arch, beta) the maximum over the trained epochs (1..) of FTMLE and of
    test accuracy (a diverged run's point is missing), mean over seeds."""
    ok = t[(t["status"] == "ok") & (t["epoch"] > 0)]
    maxima = {"ftmle": ("ftmle", "max"), "test_acc": ("test_acc", "max"), "depth": ("depth", "first")}
    per_run = ok.groupby(["arch", "beta", "seed"]).agg(**maxima)
    return per_run.groupby(["arch", "beta"]).mean().reset_index()


def figS3_claims(t: pd.DataFrame, paper_epochs: int = 50) -> list[Claim]:
    """Figure S3: small beta_i suits shallow nets (best accuracy at beta_i <= 0.01, lower FTMLE); from
    5 layers on small beta_i loses accuracy (0.001 below 0.1); 5HL-asymm diverges at large beta_i."""
    out = []
    if t.empty:
        return [Claim("figS3", "every claim", "not measured", "no runs recorded")]
    m = maxima(t)
    n_epochs, short = _epochs_note(t, paper_epochs)
    for conn in ("symm", "asymm"):
        mc = m[m["arch"].str.endswith(f"-{conn}") & ~m["arch"].str.contains("Residual|AGT")]
        for arch, a in mc.groupby("arch", sort=False):
            a = a.set_index("beta").sort_index()
            depth = int(a["depth"].iloc[0])
            if a["test_acc"].isna().all():
                continue
            best = float(a["test_acc"].idxmax())
            if depth <= 3:
                ok = best <= 0.01
                out.append(Claim("figS3", f"{arch}: small beta_i suits a shallow net (best accuracy at "
                                          f"beta_i <= 0.01)",
                                 _verdict(ok, short), f"best {a['test_acc'].max():.2f}% at beta_i={best:g} "
                                 f"(max over {n_epochs} epochs)"))
                what = f"{arch}: easier to converge at small beta_i (max FTMLE lower at 0.001 than at 1)"
                if {0.001, 1.0} <= set(a.index) and not a.loc[[0.001, 1.0], "ftmle"].isna().any():
                    lo, hi = a.loc[0.001, "ftmle"], a.loc[1.0, "ftmle"]
                    out.append(Claim("figS3", what, "holds" if lo < hi else "does not hold",
                                     f"max FTMLE {lo:.3f} vs {hi:.3f}"))
                else:
                    out.append(Claim("figS3", what, "not measured",
                                     "no FTMLE recorded at beta_i = 0.001 and 1 (runs recorded without the "
                                     "probe: rerun them)"))
            elif {0.001, 0.1} <= set(a.index):
                lo, mid = a.loc[0.001, "test_acc"], a.loc[0.1, "test_acc"]
                out.append(Claim("figS3", f"{arch}: from 5 layers on small beta_i loses accuracy (0.001 "
                                          f"below 0.1)",
                                 _verdict(lo < mid, short), f"{lo:.2f}% at 0.001 vs {mid:.2f}% at 0.1 "
                                 f"(max over {n_epochs} epochs)"))
    five = t[(t["arch"] == "5HL-asymm") & (t["beta"] >= 1.0)]
    if len(five):
        diverged = sorted({b for b, s in zip(five["beta"], five["status"]) if s == "diverged"})
        out.append(Claim("figS3", "5HL-asymm diverges at large beta_i (missing points)",
                         "holds" if diverged else _verdict(False, short),
                         f"diverged at beta_i = {diverged}" if diverged else
                         f"no 5HL-asymm run at beta_i >= 1 diverged within {n_epochs} epochs"))
    return out


def steadiness_claim(figure: str, t: pd.DataFrame, small: float, large: list[float], what: str) -> Claim:
    """'Smaller beta_i trains more steadily': the summed falls of the mean test-accuracy curve at
    `small` are no larger than at each of `large`; needs MIN_TREND_EPOCHS epochs."""
    curves = _mean_curves(t[t["epoch"] > 0], "test_acc")
    n = curves.shape[1] if len(curves) else 0
    if n < MIN_TREND_EPOCHS or small not in curves.index:
        return Claim(figure, what, "not enough epochs" if n < MIN_TREND_EPOCHS else "not measured",
                     f"{n} epoch(s) recorded; a trend needs {MIN_TREND_EPOCHS}")
    drops = {b: _drops(curves.loc[b].to_numpy()) for b in [small] + large if b in curves.index}
    ok = all(drops[small] <= drops[b] for b in drops if b != small)
    return Claim(figure, what, "holds" if ok else "does not hold",
                 "summed falls of test accuracy (points): "
                 + ", ".join(f"beta_i={b:g} {d:.2f}" for b, d in drops.items()))


def figS4_claims(t: pd.DataFrame) -> list[Claim]:
    """Figure S4: beta_i = 0.01 trains more smoothly (than 0.1 and 1, and than P-EP)."""
    ours = t[t["arch"] == "conv-symm"]
    return [steadiness_claim("figS4", ours, 0.01, [0.1, 1.0],
                             "beta_i = 0.01 trains more smoothly than 0.1 and 1")]


def _layer_claim(figure: str, label: str, error: np.ndarray | None, sizes: list[int], test,
                 what: str) -> Claim:
    if error is None or np.isnan(error).all():
        return Claim(figure, what, "not measured", f"no per-neuron error recorded for {label} (rerun it)")
    means = layer_means(error[-1:], sizes)[0]
    # an error that is exactly 0 makes a ratio inf: still a verdict
    with np.errstate(divide="ignore", invalid="ignore"):
        ok, numbers = test(means)
    return Claim(figure, what, "holds" if ok else "does not hold",
                 f"{label}, last epoch, mean |error| per layer (input -> output): "
                 + ", ".join(f"{v:.2e}" for v in means) + (f"; {numbers}" if numbers else ""))


def error_claims(figure: str, t: pd.DataFrame, errors: dict[str, np.ndarray], sizes: list[int],
                 paper_epochs: int = 50) -> list[Claim]:
    """Figures S5-S7's claims (Appendix B)."""
    out = []
    best = t[t["epoch"] > 0].groupby("beta")["test_acc"].max() if len(t) else pd.Series(dtype=float)
    n_epochs, short = _epochs_note(t, paper_epochs)
    arch = t["arch"].iloc[0] if len(t) else ""
    label = {b: f"{arch} beta={b:g}" for b in sorted(set(t["beta"]))} if len(t) else {}
    if figure == "figS5":
        if len(best):
            out.append(Claim(figure, "2HL: the best accuracy is at beta_i = 0.001",
                             _verdict(best.idxmax() == 0.001, short),
                             ", ".join(f"{b:g}: {v:.2f}%" for b, v in best.items())
                             + f" (best over {n_epochs} epochs)"))
        out.append(_layer_claim(figure, label.get(0.001, ""), errors.get(label.get(0.001, "")), sizes,
                                lambda m: (m[1] >= 100 * m[0], f"layer 2 / layer 1 = {m[1] / m[0]:.0f}"),
                                "at beta_i = 0.001 the first hidden layer's error is >= 2 orders of "
                                "magnitude below the second's"))
        out.append(_layer_claim(figure, label.get(2.0, ""), errors.get(label.get(2.0, "")), sizes,
                                lambda m: (bool(np.all(np.diff(m) > 0)), ""),
                                "at beta_i = 2 the error also falls from the output towards the input"))
        out.append(steadiness_claim(figure, t, 0.001, [1.0, 2.0], "smaller beta_i trains more steadily"))
    elif figure == "figS6":
        out.append(_layer_claim(figure, label.get(0.001, ""), errors.get(label.get(0.001, "")), sizes,
                                lambda m: (m[-2] >= 100 * m[0], f"layer 10 / layer 1 = {m[-2] / m[0]:.2g}"),
                                "weak feedback (beta_i = 0.001): the error vanishes towards the input "
                                "(layer 1 >= 2 orders of magnitude below layer 10)"))
        out.append(steadiness_claim(figure, t, 0.001, [1.0, 2.0],
                                    "smaller beta_i trains more steadily, up to 10 layers"))
    elif figure == "figS7":
        if len(best):
            top = float(best.idxmax())
            out.append(Claim(figure, "beta_i = 0.1 yields the best accuracy (97.5%)",
                             _verdict(top == 0.1, short),
                             ", ".join(f"{b:g}: {v:.2f}%"
                                       for b, v in best.items()) + f" (best over {n_epochs} epochs)"))
        out.append(_layer_claim(figure, label.get(0.1, ""), errors.get(label.get(0.1, "")), sizes,
                                lambda m: (m[0] * 100 >= m[-2], f"layer 1 / layer 10 = {m[0] / m[-2]:.2g}"),
                                "residual links restore the error flow: at beta_i = 0.1 layer 1's error "
                                "within 2 orders of magnitude of layer 10's"))
    return out


# the figures whose claims are checked here
CLAIMED = ("figS1", "figS2", "figS3", "figS4", "figS5", "figS6", "figS7")


def figure_claims(figure: str, runs: pd.DataFrame, summary: pd.DataFrame) -> list[Claim]:
    """Every claim of an appendix figure, checked on the runs behind its summary (its notebook and
    its results page print these lines). `runs` may hold other runs too (an owner's whole CSV):
    only those the summary counts are read."""
    ids = {i for v in summary.get("run_ids", pd.Series(dtype=str)).fillna("") for i in str(v).split()}
    runs = runs[runs["run_id"].isin(ids)]
    t = epoch_table(runs, summary)
    if figure in ("figS1", "figS2"):
        return dynamics_claims(figure, t)
    if figure == "figS3":
        return figS3_claims(t)
    if figure == "figS4":
        return figS4_claims(t)
    if figure in ("figS5", "figS6", "figS7"):
        return error_claims(figure, t, neuron_errors(runs, summary), layer_sizes(runs))
    raise ValueError(f"{figure} has no claims checked here; these do: {', '.join(CLAIMED)}")


def print_claims(claims: list[Claim]) -> None:
    for c in claims:
        print(c.line())
