"""``upliftree report --time`` and ``upliftree monitor --period``: the time split and the effect checks from the
command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_report_time import campaign
from typer.testing import CliRunner

from upliftree.cli import EXIT_BAD_INPUT, EXIT_DRIFT, app

runner = CliRunner()
EXPERIMENT = ["--treatment", "treatment", "--control", "0", "--outcome", "outcome"]


def run(*args: object) -> object:
    return runner.invoke(app, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("cli_time")
    paths = {"train": folder / "train.csv", "new": folder / "new.csv", "model": folder / "model.json",
             "folder": folder}
    campaign(4_000, seed=2).to_csv(paths["train"], index=False)
    new = campaign(4_000, vanish_from=6, seed=3)
    new["logged"] = 0.5
    new.to_csv(paths["new"], index=False)
    result = run("fit", paths["train"], *EXPERIMENT, "--exclude", "week", "--max-depth", 2, "--out", paths["model"],
                 "--quiet")
    assert result.exit_code == 0, result.stderr
    return paths


def test_report_with_time(files):
    out = files["folder"] / "report"
    result = run("report", files["new"], *EXPERIMENT, "--features", "x0,x1,x2", "--time",
                 "week", "--time-periods", 2, "--max-depth", 2, "--n-estimators", 5, "--n-boot", 30,
                 "--learners", "none", "--search-seconds", 0, "--criterion", "ddp", "--out", out, "--quiet")
    assert result.exit_code == 0, result.stderr
    numbers = json.loads((out / "report.json").read_text())
    # --search-seconds 0: no settings search, the tree as configured
    assert numbers["search"] is None and numbers["settings"]["search_seconds"] is None
    assert numbers["settings"]["criterion"] == "ddp"
    assert numbers["stability"]["time_column"] == "week"
    assert len(numbers["stability"]["periods"]["1"]) == 2
    assert (out / "stability.png").exists()
    result = run("report", files["new"], *EXPERIMENT, "--time", "day", "--out", out, "--quiet")
    assert result.exit_code == EXIT_BAD_INPUT and "time column 'day'" in result.stderr


def test_monitor_flags_the_vanished_effect(files):
    result = run("monitor", files["model"], files["new"], "--period", "week", *EXPERIMENT, "--propensity", "logged",
                 "--n-boot", 20, "--format", "json")
    assert result.exit_code == 0, result.stderr
    tables = json.loads(result.stdout)
    effects = pd.DataFrame(tables["effects"])
    flagged = set(effects.loc[effects["flagged"], "period"])
    assert flagged and min(flagged) == "2024-02-12"  # week 6, the first without effect
    assert not (effects["period"] < "2024-02-12").pipe(lambda early: effects.loc[early, "flagged"]).any()
    assert "Effect decay flagged" in result.stderr
    failed = run("monitor", files["model"], files["new"], "--period", "week", *EXPERIMENT, "--fail-on-drift",
                 "--quiet")
    assert failed.exit_code == EXIT_DRIFT
    result = run("monitor", files["model"], files["new"], "--period", "week", "--quiet")
    assert result.exit_code == EXIT_BAD_INPUT and "--period needs --treatment, --control, --outcome" in result.stderr
    stable = files["folder"] / "stable.csv"
    campaign(4_000, seed=4).to_csv(stable, index=False)
    result = run("monitor", files["model"], stable, "--period", "week", *EXPERIMENT, "--n-boot", 0, "--format",
                 "json")
    assert result.exit_code == 0, result.stderr
    assert not any(row["flagged"] for row in json.loads(result.stdout)["effects"])
    assert np.isfinite([row["z"] for row in json.loads(result.stdout)["effects"] if row["z"] is not None]).all()
