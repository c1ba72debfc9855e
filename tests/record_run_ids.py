"""Write tests/data/run_ids.json: every registered experiment's run ids, in plan order.

A run id is what a results folder resumes by, so a refactor of the registry must leave every one
unchanged (tests/test_experiments.py compares against this file). Only a deliberate change of a
row (a setting, a label, the order of rows) regenerates it, in the same commit as the change:

    .venv/bin/python -m tests.record_run_ids
"""
from __future__ import annotations

import json
from pathlib import Path

from frecore.experiments import list_experiments, plan

PATH = Path(__file__).resolve().parent / "data" / "run_ids.json"
PROFILES = ("smoke", "quick", "paper")
VARIANTS = ("default", "text", "code")


def run_ids() -> dict[str, dict[str, dict[str, list[str]]]]:
    """experiment -> profile -> variant -> [run id of each planned run, in plan order]."""
    return {name: {profile: {variant: [run.run_id for run in plan(name, profile, variant=variant)]
                             for variant in VARIANTS}
                   for profile in PROFILES}
            for name in list_experiments()}


def main() -> None:
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(json.dumps(run_ids(), indent=1) + "\n")
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
