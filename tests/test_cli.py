"""The ``upliftree`` command line: every command's happy path on small data, and one-line errors on bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from upliftree import load
from upliftree.cli import EXIT_BAD_INPUT, EXIT_DRIFT, app
from upliftree.datasets import FEATURES, make_uplift_data

runner = CliRunner()
COMMANDS = ("report", "fit", "evaluate", "rules", "plot", "score", "sql", "monitor", "demo")
EXPERIMENT = ["--treatment", "treatment", "--control", "control", "--outcome", "outcome"]


def run(*args: object) -> object:
    return runner.invoke(app, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A small experiment as CSV and Parquet (with an id column), held-out rows, and a fitted tree model."""
    folder = tmp_path_factory.mktemp("cli")
    frame = make_uplift_data(4_000, random_state=3)
    frame.insert(0, "customer_id", np.arange(len(frame)) + 1000)
    columns = ["customer_id", *FEATURES, "treatment", "outcome"]
    paths = {"csv": folder / "train.csv", "parquet": folder / "train.parquet", "test": folder / "test.csv"}
    frame[columns].to_csv(paths["csv"], index=False)
    frame[columns].to_parquet(paths["parquet"], index=False)
    held_out = make_uplift_data(2_000, random_state=4)
    held_out.insert(0, "customer_id", np.arange(len(held_out)))
    held_out[columns].to_csv(paths["test"], index=False)
    paths["model"] = folder / "model.json"
    result = run("fit", paths["csv"], *EXPERIMENT, "--exclude", "customer_id", "--max-depth", 3,
                 "--min-samples-leaf", 150, "--benefit", 25, "--cost", 0.3, "--out", paths["model"], "--quiet")
    assert result.exit_code == 0, result.stderr
    paths["folder"] = folder
    return paths


def assert_bad_input(result: object, *fragments: str) -> None:
    """Exit code 1 and one line on stderr naming the problem (after the progress lines of finished steps)."""
    assert result.exit_code == EXIT_BAD_INPUT, (result.exit_code, result.stdout, result.stderr)
    *progress, error = result.stderr.strip().splitlines()
    assert error.startswith("Error: "), result.stderr
    assert all(line.startswith("✓") for line in progress), result.stderr
    for fragment in fragments:
        assert fragment in error, error


@pytest.mark.parametrize("command", COMMANDS)
def test_help_everywhere(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout and "--help" in result.stdout


def test_root_help_lists_commands():
    result = run("--help")
    assert result.exit_code == 0
    assert all(command in result.stdout for command in COMMANDS)


def test_fit_writes_a_loadable_tree_with_profile(files):
    model = load(files["model"])
    assert type(model).__name__ == "UpliftTreeClassifier"
    assert list(model.feature_names_in_) == FEATURES  # the id column was excluded
    assert model.honest_estimates_ and model.max_depth == 3
    assert model.training_profile_["policy"]["benefit"] == [25.0]


def test_fit_forest_from_parquet_with_features(files, tmp_path):
    out = tmp_path / "forest.json"
    result = run("fit", files["parquet"], *EXPERIMENT, "--features", "age,tenure", "--features", "visits",
                 "--model", "forest", "--n-estimators", 3, "--out", out, "--seed", 1)
    assert result.exit_code == 0, result.stderr
    forest = load(out)
    assert list(forest.feature_names_in_) == ["age", "tenure", "visits"] and len(forest.estimators_) == 3
    assert "Fitting UpliftRandomForestClassifier" in result.stderr  # progress goes to stderr


def test_fit_is_reproducible_with_seed(files, tmp_path):
    texts = []
    for name in ("a.json", "b.json"):
        result = run("fit", files["csv"], *EXPERIMENT, "--exclude", "customer_id", "--out", tmp_path / name,
                     "--seed", 7, "--quiet")
        assert result.exit_code == 0 and result.stdout == ""
        texts.append((tmp_path / name).read_text())
    assert texts[0] == texts[1]


def test_numeric_arm_labels(files, tmp_path):
    frame = pd.read_csv(files["csv"])
    frame["treatment"] = (frame["treatment"] == "email").astype(int)
    frame["outcome"] = frame["outcome"].astype(bool)
    frame.to_csv(tmp_path / "coded.csv", index=False)
    result = run("fit", tmp_path / "coded.csv", "-t", "treatment", "-c", "0", "-y", "outcome", "-x", "customer_id",
                 "--out", tmp_path / "coded.json", "--quiet")
    assert result.exit_code == 0, result.stderr
    model = load(tmp_path / "coded.json")
    assert list(model.treatments_) == [0, 1] and type(model).__name__ == "UpliftTreeClassifier"


def test_fit_continuous_outcome(tmp_path):
    frame = make_uplift_data(2_000, outcome="continuous", random_state=5)[[*FEATURES, "treatment", "outcome"]]
    frame.to_csv(tmp_path / "spend.csv", index=False)
    result = run("fit", tmp_path / "spend.csv", *EXPERIMENT, "--out", tmp_path / "spend.json", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert type(load(tmp_path / "spend.json")).__name__ == "UpliftTreeRegressor"


def test_evaluate(files, tmp_path):
    out = tmp_path / "scores.csv"
    result = run("evaluate", files["model"], files["test"], *EXPERIMENT, "--n-boot", 20, "--out", out)
    assert result.exit_code == 0, result.stderr
    assert "Qini" in result.stdout or "qini" in result.stdout
    scores = pd.read_csv(out)
    assert list(scores["model"]) == ["UpliftTreeClassifier", "random targeting"]
    assert {"qini", "qini_low", "qini_high", "auuc", "uplift_at_10", "uplift_at_20", "uplift_at_30"} <= set(scores)
    assert (tmp_path / "scores_deciles.csv").exists()


@pytest.mark.parametrize("fmt, marker", [("markdown", "| segment | rule |"), ("csv", "leaf_id,rule,share"),
                                         ("text", "all rows"), ("query", "\t")])
def test_rules_formats(files, fmt, marker):
    result = run("rules", files["model"], "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert marker in result.stdout


def test_rules_with_policy_to_file(files, tmp_path):
    out = tmp_path / "rules.csv"
    result = run("rules", files["model"], "--format", "csv", "--benefit", 25, "--cost", 0.3, "--out", out)
    assert result.exit_code == 0 and result.stdout == ""
    sheet = pd.read_csv(out)
    assert {"action", "net_value"} <= set(sheet) and set(sheet["action"]) <= {"control", "email"}


def test_plot_tree_and_curves(files, tmp_path):
    result = run("plot", files["model"], "--out", tmp_path / "tree.svg", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "tree.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    for kind in ("qini", "deciles"):
        out = tmp_path / f"{kind}.png"
        result = run("plot", files["model"], "--kind", kind, "--data", files["test"], *EXPERIMENT,
                     "--n-boot", 10, "--out", out, "--quiet")
        assert result.exit_code == 0, result.stderr
        assert out.read_bytes()[:4] == b"\x89PNG"


def test_score_streams_csv_and_parquet(files, tmp_path):
    model = load(files["model"])
    expected = pd.read_csv(files["csv"])
    for source, target in ((files["csv"], tmp_path / "scores.csv"), (files["parquet"], tmp_path / "scores.parquet")):
        result = run("score", files["model"], source, "--out", target, "--id", "customer_id", "--chunk-size", 700,
                     "--benefit", 25, "--cost", 0.3, "--quiet")
        assert result.exit_code == 0, result.stderr
        scores = pd.read_csv(target) if target.suffix == ".csv" else pd.read_parquet(target)
        assert list(scores.columns) == ["customer_id", "uplift", "leaf_id", "action", "net_value"]
        assert len(scores) == len(expected)
        np.testing.assert_array_equal(scores["customer_id"], expected["customer_id"])
        np.testing.assert_allclose(scores["uplift"], model.predict(expected[FEATURES]))
        np.testing.assert_array_equal(scores["leaf_id"], model.apply(expected[FEATURES]))
        treat = scores["action"] == "email"
        np.testing.assert_allclose(scores.loc[treat, "net_value"], 25 * scores.loc[treat, "uplift"] - 0.3)
        assert (scores.loc[treat, "net_value"] > 0).all() and (scores.loc[~treat, "net_value"] == 0).all()


def test_score_keep_columns_without_policy(files, tmp_path):
    out = tmp_path / "kept.csv"
    result = run("score", files["model"], files["test"], "--out", out, "--keep-columns", "--quiet")
    assert result.exit_code == 0, result.stderr
    scores = pd.read_csv(out)
    assert list(scores.columns[:3]) == ["customer_id", *FEATURES[:2]] and "net_value" not in scores
    # Without --benefit the action is "treat when the uplift is positive".
    np.testing.assert_array_equal(scores["action"] == "email", scores["uplift"] > 0)


def test_sql_runs_in_duckdb(files):
    duckdb = pytest.importorskip("duckdb")
    result = run("sql", files["model"], "--table", "customers", "--dialect", "duckdb", "--key", "customer_id",
                 "--benefit", 25, "--cost", 0.3)
    assert result.exit_code == 0, result.stderr
    customers = pd.read_csv(files["test"])  # noqa: F841 (read by DuckDB by name)
    scored = duckdb.sql(result.stdout).df().sort_values("customer_id")
    model = load(files["model"])
    np.testing.assert_array_equal(scored["leaf_id"], model.apply(customers[FEATURES]))
    assert set(scored["action"]) <= {"control", "email"}


def test_monitor(files, tmp_path):
    result = run("monitor", files["model"], files["test"], "--out", tmp_path / "drift.csv")
    assert result.exit_code == 0, result.stderr
    assert "Drift checks (0 flagged)" in result.stdout
    shifted = pd.read_csv(files["test"])
    shifted["tenure"] = shifted["tenure"] * 3
    shifted.to_parquet(tmp_path / "shifted.parquet")
    result = run("monitor", files["model"], tmp_path / "shifted.parquet", "--quiet")
    assert result.exit_code == 0
    assert "Drift flagged" in result.stderr and "feature tenure" in result.stderr
    result = run("monitor", files["model"], tmp_path / "shifted.parquet", "--fail-on-drift", "--quiet")
    assert result.exit_code == EXIT_DRIFT
    checks = pd.read_csv(tmp_path / "drift.csv")
    assert not checks["flagged"].any()


# -- bad input: exit code 1, one line --------------------------------------------------------------------------
def test_missing_column(files, tmp_path):
    result = run("fit", files["csv"], "--treatment", "arm", "--control", "control", "--outcome", "outcome",
                 "--out", tmp_path / "m.json")
    assert_bad_input(result, "column(s) ['arm'] not found")
    result = run("report", files["csv"], *EXPERIMENT, "--features", "age,shoe_size", "--out", tmp_path / "r")
    assert_bad_input(result, "shoe_size")
    result = run("score", files["model"], files["csv"], "--out", tmp_path / "s.csv", "--id", "nope")
    assert_bad_input(result, "nope")


def test_non_binary_outcome_for_a_classifier(files, tmp_path):
    frame = pd.read_csv(files["csv"])
    frame["outcome"] = frame["outcome"] * 2.5
    frame.to_csv(tmp_path / "spend.csv", index=False)
    result = run("fit", tmp_path / "spend.csv", *EXPERIMENT, "--outcome-type", "binary", "--out", tmp_path / "m.json")
    assert_bad_input(result, "not binary", "2.5")
    # evaluate checks the data against the (binary) model
    result = run("evaluate", files["model"], tmp_path / "spend.csv", *EXPERIMENT)
    assert_bad_input(result, "not binary")


def test_unknown_control_label(files, tmp_path):
    result = run("fit", files["csv"], "--treatment", "treatment", "--control", "placebo", "--outcome", "outcome",
                 "--out", tmp_path / "m.json")
    assert_bad_input(result, "control label 'placebo'", "control", "email")


def test_empty_file(tmp_path, files):
    (tmp_path / "empty.csv").write_text("")
    result = run("fit", tmp_path / "empty.csv", *EXPERIMENT, "--out", tmp_path / "m.json")
    assert_bad_input(result, "empty")
    (tmp_path / "header.csv").write_text("treatment,outcome,age\n")
    result = run("report", tmp_path / "header.csv", *EXPERIMENT, "--out", tmp_path / "r")
    assert_bad_input(result, "no rows")
    result = run("monitor", files["model"], tmp_path / "empty.csv")
    assert_bad_input(result, "empty")
    pd.read_csv(files["test"]).iloc[:0].to_csv(tmp_path / "no_rows.csv", index=False)
    result = run("score", files["model"], tmp_path / "no_rows.csv", "--out", tmp_path / "s.csv")
    assert_bad_input(result, "no rows")


def test_file_that_is_not_a_table(tmp_path, files):
    (tmp_path / "picture.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    result = run("fit", tmp_path / "picture.csv", *EXPERIMENT, "--out", tmp_path / "m.json")
    assert_bad_input(result, "not a table")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    result = run("score", files["model"], tmp_path / "broken.parquet", "--out", tmp_path / "s.csv")
    assert_bad_input(result, "Parquet")
    result = run("fit", tmp_path / "missing.csv", *EXPERIMENT, "--out", tmp_path / "m.json")
    assert_bad_input(result, "no such file")


def test_bad_model_files(tmp_path, files):
    (tmp_path / "model.json").write_text(json.dumps({"format": "something else"}))
    for command in (["rules"], ["sql", "--table", "t"], ["monitor", files["test"]]):
        result = run(command[0], tmp_path / "model.json", *command[1:])
        assert_bad_input(result, "not an upliftree model file")
    result = run("rules", tmp_path / "absent.json")
    assert_bad_input(result, "no such model file")


def test_commands_that_need_a_tree(files, tmp_path):
    result = run("fit", files["csv"], *EXPERIMENT, "--exclude", "customer_id", "--model", "forest",
                 "--n-estimators", 2, "--out", tmp_path / "forest.json", "--quiet")
    assert result.exit_code == 0
    assert_bad_input(run("rules", tmp_path / "forest.json"), "single tree")
    assert_bad_input(run("plot", tmp_path / "forest.json", "--out", tmp_path / "tree.svg"), "single tree")
    assert_bad_input(run("sql", tmp_path / "forest.json", "--table", "t", "--benefit", 1), "single tree")


def test_policy_options_need_benefit(files, tmp_path):
    assert_bad_input(run("rules", files["model"], "--cost", 1), "--cost needs --benefit")
    result = run("report", files["csv"], *EXPERIMENT, "--budget", 100, "--out", tmp_path / "r")
    assert_bad_input(result, "benefit")


def test_usage_errors_exit_with_usage_code(files):
    result = run("fit", files["csv"])  # missing required options
    assert result.exit_code == 2 and "--treatment" in result.stderr


# -- tables: full values off a terminal, and --format csv / json / markdown ---------------------------------------
def test_tables_off_a_terminal_are_not_cut(files, tmp_path):
    """Piped output used to be cut at 80 columns ("treat…", "qini_…", a PSI of 8.367e-08 as "8.367…")."""
    result = run("evaluate", files["model"], files["test"], *EXPERIMENT, "--n-boot", 20)
    assert result.exit_code == 0, result.stderr
    assert "…" not in result.stdout
    for header in ("treatment", "qini_low", "qini_high", "uplift_at_10", "uplift_at_30", "predicted_uplift"):
        assert header in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) > 80
    result = run("monitor", files["model"], files["test"], "--format", "csv")
    checks = pd.read_csv(__import__("io").StringIO(result.stdout))
    shown = run("monitor", files["model"], files["test"]).stdout
    assert "…" not in shown
    from upliftree._format import significant

    for value in checks["value"].dropna():
        assert significant(value) in shown


def test_format_csv_and_json_print_full_values(files, tmp_path):
    import io

    from upliftree.monitor import drift_report

    result = run("monitor", files["model"], files["test"], "--format", "csv", "--out", tmp_path / "drift.csv")
    assert result.exit_code == 0, result.stderr
    printed = pd.read_csv(io.StringIO(result.stdout))
    pd.testing.assert_frame_equal(printed, pd.read_csv(tmp_path / "drift.csv"))
    expected = drift_report(load(files["model"]), pd.read_csv(files["test"]))
    np.testing.assert_array_equal(printed["value"].to_numpy(), expected["value"].to_numpy())  # every digit
    assert "Checks:" in result.stderr and "Checks:" not in result.stdout  # stdout holds only the table

    result = run("evaluate", files["model"], files["test"], *EXPERIMENT, "--n-boot", 20, "--format", "json",
                 "--quiet", "--out", tmp_path / "scores.csv")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)  # printed even with --quiet: the format was asked for
    assert set(document) == {"scores", "deciles"}
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert [row["qini"] for row in document["scores"]] == scores["qini"].tolist()
    assert len(document["deciles"]) == len(pd.read_csv(tmp_path / "scores_deciles.csv"))


def test_format_markdown_of_the_segments(files, tmp_path):
    result = run("fit", files["csv"], *EXPERIMENT, "--exclude", "customer_id", "--max-depth", 2,
                 "--out", tmp_path / "m.json", "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "**Segments, best first**" and lines[2] == "| leaf | share | uplift | rule |"
    assert all(line.startswith("|") for line in lines[2:] if line)
    assert re.search(r"\| [+-]\d+\.\d pp \([+-]\d+\.\d, [+-]\d+\.\d\) \|", result.stdout)
    assert "Model:" in result.stderr
    result = run("fit", files["csv"], *EXPERIMENT, "--exclude", "customer_id", "--max-depth", 2,
                 "--out", tmp_path / "m.json", "--format", "json", "--quiet")
    sheet = json.loads(result.stdout)["segments"]
    assert {"leaf_id", "rule", "share", "uplift", "ci_low", "ci_high", "n_control", "n_email"} <= set(sheet[0])


def test_plot_tree_without_graphviz(files, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot program
    result = run("plot", files["model"], "--out", tmp_path / "tree.png")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "tree.png").read_bytes()[:4] == b"\x89PNG"
    assert "matplotlib: Graphviz's dot program was not found" in " ".join(result.stdout.split())
    result = run("plot", files["model"], "--out", tmp_path / "tree.svg", "--renderer", "graphviz")
    assert_bad_input(result, "Install Graphviz")


def test_fit_and_evaluate_take_the_design(tmp_path):
    """--propensity names a column that is not a feature; a bad one is refused naming it."""
    rng = np.random.default_rng(5)
    n_rows = 3000
    north = rng.random(n_rows) < 0.3
    p_treated = np.where(north, 0.8, 0.5)
    treated = rng.random(n_rows) < p_treated
    frame = pd.DataFrame({"north": north.astype(int), "age": rng.normal(size=n_rows), "t": treated.astype(int),
                          "y": (rng.random(n_rows) < 0.1 + 0.2 * north + 0.03 * treated).astype(int),
                          "p": np.where(treated, p_treated, 1 - p_treated), "store": rng.integers(0, 300, n_rows)})
    data = tmp_path / "data.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "model.json"
    common = ["-t", "t", "-c", "0", "-y", "y", "--propensity", "p", "--cluster", "store"]
    result = runner.invoke(app, ["fit", str(data), *common, "-o", str(model), "--quiet"])
    assert result.exit_code == 0, result.stderr
    fitted = load(model)
    assert set(fitted.feature_names_in_) == {"north", "age"} and fitted.tree_.has_design
    result = runner.invoke(app, ["evaluate", str(model), str(data), *common, "--n-boot", "20", "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    frame.assign(p=frame["p"] * 2).to_csv(data, index=False)
    result = runner.invoke(app, ["fit", str(data), *common, "-o", str(model), "--quiet"])
    assert result.exit_code != 0 and "propensity" in result.stderr and "(0, 1]" in result.stderr
