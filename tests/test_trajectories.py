import math

import pandas as pd

from frecore.analysis.trajectories import FIG2_SETTINGS, settling_steps


def test_settling_steps_follow_appendix_a():
    rows = []
    for setting, changes in (("fast", [1.0, 0.1, 0, 0, 0, 0]), ("never", [1.0, 0.5] * 3)):
        for step, c in enumerate(changes, start=1):
            rows += [{"setting": setting, "step": step, "neuron": n, "change": c * (-1) ** n}
                     for n in range(2)]
    t = settling_steps(pd.DataFrame(rows))
    assert t["fast"] == 2.0 and math.isinf(t["never"])


def test_figure_2_settings_are_the_papers():
    assert [(s.feedback, s.beta) for s in FIG2_SETTINGS] == [
        ("symmetric", 0.1), ("symmetric", 2.0), ("random", 0.1), ("random", 4.0)]
