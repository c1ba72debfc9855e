"""Results pages and their tables (frecore.reporting.markdown)."""
import math

import pandas as pd

from frecore.reporting.markdown import has_paper_numbers, markdown_table, results_page


def _header(table: str) -> list[str]:
    return [h.strip() for h in table.splitlines()[0].strip("|").split("|")]


def test_a_table_shows_the_paper_beside_ours_and_drops_the_paper_columns_where_it_prints_no_number():
    table1 = pd.read_csv("results/table1_summary.csv")  # committed: the quick profile's rows
    assert has_paper_numbers(table1)
    header = _header(markdown_table(table1))
    assert {"Paper (%)", "Δ best vs paper", "Train best: ours / paper (%)", "Paper WCT"} <= set(header)
    study = table1.copy()
    for col in ("paper_test", "paper_std", "paper_train", "paper_wct_s", "diff_vs_paper"):
        study[col] = math.nan
    assert not has_paper_numbers(study)
    table = markdown_table(study)
    header = _header(table)
    assert not [h for h in header if "aper" in h.replace("paper)", "")]  # only "epochs (ours/paper)" left
    assert "Train best (%)" in header and " / -" not in table
    rows = table.splitlines()[2:]
    assert len(rows) == len(study) and all(r.count("|") == len(header) + 1 for r in rows)
    assert "The paper prints no number for any of these rows" in results_page("x", study, "x.csv", "X")
    assert "The paper prints no number" not in results_page("table1", table1, "t.csv", "Table 1")


def test_a_page_names_the_command_that_wrote_it():
    table1 = pd.read_csv("results/table1_summary.csv")
    quick = results_page("table1", table1, "results/table1_summary.csv", "Table 1")
    assert "`python -m frecore report table1 --page docs/results/table1.md` (run by `make table1`)" in quick
    paper = results_page("table1", table1, "results/table1_paper_summary.csv", "Table 1", profile="paper",
                         page="docs/results/table1_paper.md")
    assert ("`python -m frecore report table1 --profile paper --page docs/results/table1_paper.md` "
            "(run by `make campaign`)") in paper
