"""The report's time split (ReportSettings(time=...), upliftree report --time): training rows before the cut,
held-out rows after it, the held-out periods' metrics and the decay check in the page and report.json."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from upliftree.report import ReportSettings, experiment_from_frame, make_report
from upliftree.report.io import DataError
from upliftree.report.settings import no_progress
from upliftree.report.split import held_out_periods, split_rows, time_holdout, time_values


def campaign(n_rows: int = 6_000, vanish_from: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Weekly rows of a 50/50 experiment; the effect (+2 for x0 > 0, +0.5 else) vanishes from week
    ``vanish_from``."""
    rng = np.random.default_rng(seed)
    week = np.sort(rng.integers(0, 10, n_rows))
    x = rng.normal(size=(n_rows, 3))
    treatment = rng.integers(0, 2, n_rows)
    effect = np.where(x[:, 0] > 0, 2.0, 0.5)
    if vanish_from is not None:
        effect = np.where(week >= vanish_from, 0.0, effect)
    outcome = x[:, 1] + effect * treatment + rng.normal(size=n_rows)
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(7 * week, unit="D")
    return pd.DataFrame({"week": dates.strftime("%Y-%m-%d"), "x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2],
                         "treatment": treatment, "outcome": outcome})


def test_time_holdout_keeps_each_time_on_one_side():
    time = np.repeat(np.arange(10.0), [5] * 9 + [55])
    held_out = time_holdout(time, 0.3)
    assert held_out.mean() == pytest.approx(0.55)  # the last time alone holds 55% of the rows: nearest to 30%
    time = np.arange(100.0)
    held_out = time_holdout(time, 0.3)
    assert held_out.sum() == 30 and time[held_out].min() == 70
    assert time_holdout(time[::-1], 0.3).sum() == 30  # row order does not matter
    with pytest.raises(ValueError, match="single value"):
        time_holdout(np.zeros(5), 0.3)
    periods = held_out_periods(time[held_out], time[held_out].astype(int).astype(str), 4)
    assert sorted(set(periods)) == ["1: 70 to 76", "2: 77 to 84", "3: 85 to 91", "4: 92 to 99"]


def test_time_values():
    dates = time_values(pd.Series(["2024-01-08", "2024-01-01"]), "week")
    assert dates[0] > dates[1]
    assert time_values(pd.Series([3, 1]), "week").tolist() == [3.0, 1.0]
    with pytest.raises(DataError, match="time column 'week' must hold numbers or dates"):
        time_values(pd.Series(["soon", "later"]), "week")
    with pytest.raises(DataError, match="time column 'week' has 1 missing"):
        time_values(pd.Series([1.0, None]), "week")


def test_the_split_trains_on_earlier_rows():
    frame = campaign()
    experiment = experiment_from_frame(frame, treatment="treatment", control=0, outcome="outcome")
    split = split_rows(experiment, ReportSettings(time="week"), no_progress)
    assert "week" not in split.train.X.columns
    assert split.test.n_rows == pytest.approx(0.3 * len(frame), rel=0.1)
    assert split.time_cut == "2024-02-19"  # week 7 onwards: 3 of 10 weeks
    assert len(set(split.test_periods)) == 3
    with pytest.raises(DataError, match="time column 'day' is not among"):
        split_rows(experiment, ReportSettings(time="day"), no_progress)


def test_the_report_flags_an_effect_that_vanished_after_training(tmp_path):
    frame = campaign(vanish_from=8)
    experiment = experiment_from_frame(frame, treatment="treatment", control=0, outcome="outcome")
    settings = ReportSettings(max_depth=2, n_estimators=5, n_boot=50, learners=(), time="week")
    report = make_report(experiment, tmp_path, settings)
    assert "stability.png" in report.files
    page = report.html.read_text()
    assert 'id="stability"' in page and "Effect decay flagged" in page
    assert "by time: held out from week 2024-02-19 on" in page
    numbers = json.loads((tmp_path / "report.json").read_text())["stability"]
    periods = numbers["periods"]["1"]
    assert [row["group"] for row in periods] == ["1: 2024-02-19", "2: 2024-02-26", "3: 2024-03-04"]
    assert periods[0]["average_effect_low"] > 0.5 and periods[2]["average_effect_high"] < 0.5
    flagged = {row["period"] for row in numbers["checks"]["1"] if row["flagged"]}
    assert flagged == {"2: 2024-02-26", "3: 2024-03-04"}


def test_a_stable_effect_is_not_flagged_and_random_splits_have_no_section(tmp_path):
    frame = campaign(seed=1)
    experiment = experiment_from_frame(frame, treatment="treatment", control=0, outcome="outcome")
    settings = ReportSettings(max_depth=2, n_estimators=5, n_boot=50, learners=(), time="week")
    report = make_report(experiment, tmp_path / "time", settings)
    assert "No decay flagged" in report.html.read_text()
    plain = make_report(experiment.without(["week"]), tmp_path / "random",
                        ReportSettings(max_depth=2, n_estimators=5, n_boot=50, learners=()))
    assert 'id="stability"' not in plain.html.read_text()
    assert json.loads((tmp_path / "random" / "report.json").read_text())["stability"] is None
