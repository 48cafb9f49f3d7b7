"""The one-command report: artifacts, self-containment, policy files, checks, and variants of the data."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from upliftree import load
from upliftree.cli import app
from upliftree.datasets import FEATURES, make_smooth_uplift_data, make_uplift_data
from upliftree.report import ARTIFACTS, ReportSettings, experiment_from_frame, make_report
from upliftree.report.checks import SMD_WARNING, balance_check, covariate_balance, segment_checks

runner = CliRunner()
FAST = ["--n-estimators", "5", "--n-boot", "20"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """The demo on small data (the full-size demo is what ``make demo`` runs)."""
    out = tmp_path_factory.mktemp("demo")
    result = runner.invoke(app, ["demo", "--out", str(out), "--n-samples", "5000", "--quiet"])
    assert result.exit_code == 0, result.stderr
    return out


def test_demo_writes_every_artifact(demo_dir):
    # propensity.png only with --propensity estimate (observational data; tests/test_report_observational.py)
    assert sorted(path.name for path in demo_dir.iterdir()) == sorted(set(ARTIFACTS) - {"propensity.png"})
    assert (demo_dir / "scoring.sql").read_text().startswith("SELECT")
    assert "| segment | rule |" in (demo_dir / "rules.md").read_text()
    sheet = pd.read_csv(demo_dir / "rules.csv")
    assert {"rule", "share", "uplift", "ci_low", "ci_high", "action", "net_value"} <= set(sheet)
    segments = pd.read_csv(demo_dir / "segments.csv")
    assert {"uplift", "p_value", "honest", "held_out_uplift", "held_out_ci_low", "held_out_ci_high"} <= set(segments)
    for image in ("qini.png", "uplift.png", "deciles.png"):
        assert (demo_dir / image).read_bytes()[:4] == b"\x89PNG"


def test_report_is_self_contained(demo_dir):
    html = (demo_dir / "report.html").read_text()
    # No stylesheet, script or image from anywhere else: it must open offline.
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", html)
    assert "<script" not in html and "<link" not in html
    assert html.count('src="data:image/png;base64,') == 3
    # The tree is drawn in HTML, one row per node, with a link to the full-size drawing.
    model = load(demo_dir / "model.json")
    assert html.count('<div class="tnode') == model.tree_.n_nodes
    assert 'href="tree.svg"' in html and "drawn with Graphviz (dot)" in html
    assert (demo_dir / "tree.svg").read_text().lstrip().startswith("<?xml")
    for section in ("summary", "models", "curves", "deciles", "tree", "segments", "policy", "checks", "balance"):
        assert f'id="{section}"' in html


def test_report_model_file(demo_dir):
    model = load(demo_dir / "model.json")
    assert model.honest_estimates_ and model.criterion == "ed"
    profile = model.training_profile_
    assert profile["policy"]["benefit"] == [25.0] and profile["policy"]["cost"] == 0.5
    data = make_uplift_data(500, random_state=9)
    eligibility = pd.read_csv(demo_dir / "eligibility.csv")
    assert len(eligibility) == 5_000
    assert {"id", "assigned", "policy_arm", "exploration", "assignment_probability", "expected_uplift",
            "net_value", "leaf_id"} <= set(eligibility)
    assert set(model.apply(data[FEATURES])) <= set(model.tree_.leaf_ids)


def test_budget_and_exploration(tmp_path):
    frame = make_uplift_data(3_000, random_state=14)
    frame.insert(0, "customer", [f"c{i}" for i in range(len(frame))])
    frame[["customer", *FEATURES, "treatment", "outcome"]].to_csv(tmp_path / "data.csv", index=False)
    result = runner.invoke(app, [
        "report", str(tmp_path / "data.csv"), "-t", "treatment", "-c", "control", "-y", "outcome",
        "--id-column", "customer", "--benefit", "40", "--cost", "1", "--budget", "150", "--explore", "0.1",
        "--max-depth", "2", "--learners", "none", *FAST, "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0, result.stderr
    eligibility = pd.read_csv(tmp_path / "out" / "eligibility.csv")
    assert eligibility["id"].str.startswith("c").all()  # ids from --id-column, which is not a feature
    assert "customer" not in load(tmp_path / "out" / "model.json").feature_names_in_
    policy_rows = eligibility[~eligibility["exploration"]]
    assert (policy_rows["policy_arm"] == "email").sum() <= 150  # cost 1 per treated row
    assert 0.05 < eligibility["exploration"].mean() < 0.15
    html = (tmp_path / "out" / "report.html").read_text()
    assert "within a budget of 150" in html and "exploration bucket" in html
    assert "-learner" not in html  # --learners none


def test_continuous_outcome_with_two_treatments(tmp_path):
    frame = make_uplift_data(3_000, n_treatments=2, outcome="continuous", random_state=15)
    frame[[*FEATURES, "treatment", "outcome"]].to_parquet(tmp_path / "spend.parquet")
    result = runner.invoke(app, [
        "report", str(tmp_path / "spend.parquet"), "-t", "treatment", "-c", "control", "-y", "outcome",
        "--max-depth", "2", *FAST, "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0, result.stderr
    html = (tmp_path / "out" / "report.html").read_text()
    assert "continuous outcome" in html
    assert html.count('class="scores"') == 2  # one score table per treatment
    assert "discount vs control" in html and "email vs control" in html
    segments = pd.read_csv(tmp_path / "out" / "segments.csv")
    assert set(segments["treatment"]) == {"discount", "email"}
    assert not (tmp_path / "out" / "eligibility.csv").exists()


def test_learners_are_scored_on_the_tree_s_held_out_rows(tmp_path):
    """The chosen learners, in the order asked for, are scored on the same held-out rows as the tree: the Qini
    with its bootstrap interval, equal to the Qini of their own predictions on those rows."""
    from upliftree import metrics
    from upliftree.report.settings import no_progress
    from upliftree.report.split import split_rows

    frame = make_smooth_uplift_data(6_000, noise=0.5, random_state=16)
    features = [f"x{index}" for index in range(6)]
    experiment = experiment_from_frame(frame, treatment="treatment", control=0, outcome="outcome", features=features)
    settings = ReportSettings(max_depth=2, n_estimators=3, n_boot=50, learners=("x", "t", "dr"))
    report = make_report(experiment, tmp_path, settings)
    assert list(report.learners) == ["X-learner", "T-learner", "DR-learner"]
    table = report.scores["1"].set_index("model")
    assert list(table.index) == ["uplift tree", "uplift forest", "X-learner", "T-learner", "DR-learner",
                                 "random targeting"]
    test = split_rows(experiment, settings, no_progress).test
    treatment = (test.treatment == 1).astype(np.int64)
    for label, learner in report.learners.items():
        uplift = learner.predict(test.X)
        assert table.loc[label, "qini"] == pytest.approx(metrics.qini_auc_score(test.y, uplift, treatment))
        assert table.loc[label, "qini_low"] < table.loc[label, "qini"] < table.loc[label, "qini_high"]
        assert np.isnan(table.loc[label, ["auuc", "auuc_low", "auuc_high"]].astype(float)).all()  # continuous
    # The randomized design is the propensity (each arm's share of the training rows), not an estimate.
    train = split_rows(experiment, settings, no_progress).train
    share = float(np.mean(train.treatment == 1))
    dr = report.learners["DR-learner"]
    assert not dr.overlap_.estimated
    assert np.allclose(dr.dr_scores_.propensity, np.where(train.treatment == 1, share, 1 - share))
    assert report.learners["X-learner"].propensity_model_ is None
    # The effect ((x0 + x1) / 2) varies as much as the noise: every learner ranks clearly better than random.
    assert (table.loc[["X-learner", "T-learner", "DR-learner"], "qini_low"] > 0).all()
    html = unescape(report.html.read_text())
    assert "DR-learner</td><td>effect model on cross-fitted doubly robust scores" in html
    assert "3-fold cross-fitting" in html and "needs scikit-learn" not in html


def test_learners_option(tmp_path):
    frame = make_uplift_data(2_000, random_state=16)
    frame[[*FEATURES, "treatment", "outcome"]].to_csv(tmp_path / "data.csv", index=False)
    command = ["report", str(tmp_path / "data.csv"), "-t", "treatment", "-c", "control", "-y", "outcome",
               "--max-depth", "2", *FAST, "--out", str(tmp_path / "out"), "--quiet"]
    result = runner.invoke(app, [*command, "--learners", "T, s"])
    assert result.exit_code == 0, result.stderr
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<td>S-learner</td>" in html and "<td>T-learner</td>" in html and "DR-learner" not in html
    result = runner.invoke(app, [*command, "--learners", "t,forest"])
    assert result.exit_code == 1
    assert "learners: unknown learner(s) ['forest']" in result.stderr and "'dr'" in result.stderr


def test_a_learner_that_cannot_be_fitted_is_named(tmp_path):
    """An arm whose outcome never varies has no outcome model: the report says so and scores the others."""
    frame = make_uplift_data(2_000, random_state=20)
    frame.loc[frame["treatment"] == "email", "outcome"] = 0
    experiment = experiment_from_frame(frame, treatment="treatment", control="control", outcome="outcome",
                                       features=FEATURES)
    report = make_report(experiment, tmp_path, ReportSettings(max_depth=1, n_estimators=3, n_boot=10,
                                                              learners=("t", "s")))
    assert list(report.learners) == ["S-learner"]
    scores = report.scores["email"].set_index("model").loc["S-learner"]
    assert scores["auuc_low"] < scores["auuc"] < scores["auuc_high"]  # binary: the uplift AUC has its interval
    html = unescape(report.html.read_text())
    assert "The T-learner could not be fitted: y: arm 'email' has no rows with outcome 1" in html


def test_report_settings_are_checked():
    with pytest.raises(ValueError, match="test_size"):
        ReportSettings(test_size=1.5).check()
    with pytest.raises(ValueError, match="benefit"):
        ReportSettings(cost=2.0).check()
    with pytest.raises(ValueError, match=r"learners: unknown learner\(s\) \['T'\]"):
        ReportSettings(learners=("T",)).check()
    with pytest.raises(ValueError, match=r"learners: \['dr'\] given more than once"):
        ReportSettings(learners=("dr", "t", "dr")).check()
    with pytest.raises(ValueError, match="learners must be a sequence"):
        ReportSettings(learners="t,dr").check()


def test_covariate_balance_finds_a_leak():
    frame = make_uplift_data(4_000, random_state=17)
    treated = (frame["treatment"] == "email").to_numpy()
    rng = np.random.default_rng(0)
    # A "feature" recorded after treatment: e-mailed customers opened more e-mails.
    frame["opens"] = rng.poisson(1.0, len(frame)) + 2 * treated
    frame["region"] = frame["region"].astype(object)
    frame.loc[treated & (rng.random(len(frame)) < 0.3), "region"] = "north"
    X = frame[[*FEATURES, "opens"]]
    experiment = experiment_from_frame(frame, treatment="treatment", control="control", outcome="outcome",
                                       features=[*FEATURES, "opens"])
    from upliftree import UpliftTreeClassifier

    schema = UpliftTreeClassifier(max_depth=0, control="control").fit(X, experiment.treatment, experiment.y).schema_
    balance = covariate_balance(X, experiment.treatment, experiment.arms, schema)
    top = balance.iloc[0]
    assert top["feature"] == "opens" and top["smd_email"] > 1.0
    assert balance.loc[balance["level"] == "= north", "max_abs_smd"].iloc[0] > SMD_WARNING
    assert balance.loc[balance["feature"] == "tenure", "max_abs_smd"].iloc[0] < SMD_WARNING
    assert set(balance.loc[balance["feature"] == "income", "level"]) == {"mean", "is missing"}
    check = balance_check(balance)
    assert check.level == "warning" and "opens" in check.detail


def test_segment_checks():
    sheet = pd.DataFrame({
        "leaf_id": [3, 4, 5, 6], "n_control": [400, 30, 500, 500], "n_email": [380, 420, 510, 490],
        "uplift": [0.08, 0.01, -0.01, -0.06], "ci_low": [0.03, -0.05, -0.04, -0.09],
        "ci_high": [0.13, 0.07, 0.02, -0.03],
    })
    checks = {check.title: check for check in segment_checks(sheet, ["control", "email"], ["email"])}
    tiny = checks["Tiny arms in some segments"]
    assert tiny.level == "warning" and "[4]" in tiny.detail
    assert "[6]" in checks["Do not disturb"].detail and checks["Do not disturb"].level == "warning"
    assert "[5]" in checks["Possibly negative"].detail


def test_tree_is_drawn_without_graphviz(monkeypatch, tmp_path):
    """Without the dot program the report still has its tree drawing, drawn by matplotlib, and says so."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot program
    frame = make_uplift_data(2_000, random_state=18)
    experiment = experiment_from_frame(frame, treatment="treatment", control="control", outcome="outcome",
                                       features=FEATURES)
    report = make_report(experiment, tmp_path / "out", ReportSettings(max_depth=2, n_estimators=3, n_boot=10,
                                                                       learners=()))
    svg = report.files["tree.svg"].read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "matplotlib" in svg
    html = unescape(report.html.read_text())
    assert "drawn with matplotlib (Graphviz's dot program was not found)" in html
    assert html.count('<div class="tnode') == report.tree.tree_.n_nodes


def test_continuous_numbers_share_one_precision(tmp_path):
    """Every outcome level and effect of a continuous report has the decimals of the outcome's scale, and
    the summary labels which effect uses all rows and which the tree's estimation rows."""
    from upliftree.export.sheets import outcome_format

    frame = make_uplift_data(3_000, n_treatments=2, outcome="continuous", random_state=19)
    experiment = experiment_from_frame(frame, treatment="treatment", control="control", outcome="outcome",
                                       features=FEATURES)
    report = make_report(experiment, tmp_path, ReportSettings(max_depth=2, n_estimators=3, n_boot=10, learners=()))
    decimals = outcome_format(report.tree).decimals
    html = " ".join(re.sub(r"<[^>]+>", " ", report.html.read_text()).split())  # the text a reader sees
    effects = re.findall(r"([+-][\d,]+(?:\.\d+)?) \(([+-][\d,.]+), ([+-][\d,.]+)\)", html)
    assert len(effects) > 20
    for numbers in effects:
        assert {len(number.split(".")[1]) if "." in number else 0 for number in numbers} == {decimals}, numbers
    assert not re.search(r"[+-]\d\.\d+e-\d\d", html)  # no scientific notation among the effects
    assert "Average effect of email, all " in html and "All estimation rows" in html
    assert "estimation rows, which did not choose the splits" in html


def test_deep_trees_start_folded_below_the_overview_depth():
    from upliftree import UpliftTreeClassifier
    from upliftree.export.drawing import tree_drawing
    from upliftree.report.tree_view import OPEN_DEPTH, tree_view

    frame = make_uplift_data(20_000, random_state=20)
    model = UpliftTreeClassifier(max_depth=7, min_samples_leaf=60, control="control", random_state=0).fit(
        frame[FEATURES], frame["treatment"], frame["outcome"])
    assert model.depth_ > OPEN_DEPTH
    view = tree_view(tree_drawing(model), ["control", "email"], "All rows")
    seen = []

    def walk(node):
        seen.append(node)
        assert node["folded"] == (node["depth"] >= OPEN_DEPTH)
        assert node["n_leaves"] == (1 if node["leaf"] else sum(child["n_leaves"] for child in node["children"]))
        for effect in node["effects"]:
            if effect["bar"]:
                assert 0 <= effect["bar"]["low"] <= effect["bar"]["estimate"] <= effect["bar"]["low"] + \
                    effect["bar"]["width"] <= 100.01
        for child in node["children"]:
            walk(child)

    walk(view["root"])
    assert len(seen) == model.tree_.n_nodes and view["root"]["n_leaves"] == model.n_leaves_
    assert 0 < view["zero"] < 100


# -- the experiment's design (issue 16) ---------------------------------------------------------------------------
STRATIFIED_TRUE_EFFECT = 0.3 * 0.005 + 0.7 * 0.025  # north: +0.5 pp (30% of rows), elsewhere +2.5 pp


def _stratified_frame(n_rows: int, seed: int) -> pd.DataFrame:
    """80/20 treated in the north (baseline 25 points higher), 50/50 elsewhere; true average effect known."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], n_rows, p=[0.3, 0.25, 0.25, 0.2])
    north = region == "north"
    p_treated = np.where(north, 0.8, 0.5)
    treated = rng.random(n_rows) < p_treated
    rate = np.where(north, 0.35, 0.10) + treated * np.where(north, 0.005, 0.025)
    return pd.DataFrame({"region": region, "age": rng.normal(40, 10, n_rows).round(),
                         "arm": np.where(treated, "mail", "none"), "bought": (rng.random(n_rows) < rate).astype(int),
                         "p_arm": np.where(treated, p_treated, 1 - p_treated)})


STRATIFIED_SETTINGS = ReportSettings(n_estimators=5, n_boot=20, learners=(), max_depth=2, benefit=10.0)


@pytest.fixture(scope="module")
def stratified_reports(tmp_path_factory):
    frame = _stratified_frame(20_000, 3)
    reports = {}
    for propensity in (None, "p_arm"):
        experiment = experiment_from_frame(frame, treatment="arm", control="none", outcome="bought",
                                           exclude=["p_arm"] if propensity is None else [], propensity=propensity)
        reports[propensity] = make_report(experiment, tmp_path_factory.mktemp(str(propensity)), STRATIFIED_SETTINGS)
    return reports


def test_design_check_fails_without_propensity_and_names_the_stratum(stratified_reports):
    report = stratified_reports[None]
    design = report.checks[0]
    assert design.level == "failed" and "region" in design.title and "not trustworthy" in design.title
    assert "north" in design.detail and "--propensity" in design.detail
    numbers = json.loads((report.out_dir / "report.json").read_text())
    effect = numbers["effects"][0]
    # The unweighted average effect mixes the north's higher baseline in: far from the truth.
    assert effect["design"] == "none" and effect["low"] > STRATIFIED_TRUE_EFFECT + 0.02
    assert numbers["checks"][0]["level"] == "failed"
    html = unescape(report.html.read_text())
    assert "not trustworthy" in html
    assert 'id="balance-weighted"' not in html
    balance = next(check for check in report.checks if check.title.startswith("Arms"))
    assert "weighted" not in balance.detail


def test_with_propensity_the_average_effect_covers_the_truth(stratified_reports):
    report = stratified_reports["p_arm"]
    assert report.checks[0].level == "ok" and "agree with the given propensity" in report.checks[0].title
    assert "region" in report.tree.feature_names_in_ and "p_arm" not in report.tree.feature_names_in_
    numbers = json.loads((report.out_dir / "report.json").read_text())
    effect = numbers["effects"][0]
    assert effect["design"].startswith("inverse-probability weighted")
    assert effect["low"] < STRATIFIED_TRUE_EFFECT < effect["high"]
    assert numbers["design"] == {"propensity": "p_arm", "cluster": None}
    # The balance table is design-weighted and says so; weighted, the region is balanced.
    assert 'id="balance-weighted"' in report.html.read_text()
    balance = next(check for check in report.checks if check.title.startswith("Arms"))
    assert balance.level == "ok" and "inverse-probability weighted" in balance.detail


def test_learners_take_the_given_propensity(tmp_path):
    """With --propensity the learners use the design's probabilities (not the arm shares) and say so, and the
    DR-learner's average effect covers the truth."""
    frame = _stratified_frame(8_000, 5)
    experiment = experiment_from_frame(frame, treatment="arm", control="none", outcome="bought", propensity="p_arm")
    report = make_report(experiment, tmp_path, replace(STRATIFIED_SETTINGS, learners=("dr",), benefit=None))
    dr = report.learners["DR-learner"]
    assert not dr.overlap_.estimated and set(np.round(dr.dr_scores_.propensity, 6)) == {0.2, 0.5, 0.8}
    low, high = dr.ate_interval()[0]
    assert low < STRATIFIED_TRUE_EFFECT < high
    html = unescape(report.html.read_text())
    assert "doubly robust scores; scikit-learn" in html and "the given propensity" in html
    assert "share of the training rows" not in html


def test_a_contradicted_propensity_fails_the_check(tmp_path):
    from upliftree.report.checks import design_check

    frame = _stratified_frame(6000, 4).assign(p_claimed=lambda f: np.where(f["arm"] == "mail", 0.5, 0.5))
    experiment = experiment_from_frame(frame, treatment="arm", control="none", outcome="bought",
                                       exclude=["p_arm"], propensity="p_claimed")
    check = design_check(experiment)
    assert check.level == "failed" and "region" in check.title and "north" in check.detail
    right = experiment_from_frame(frame, treatment="arm", control="none", outcome="bought", exclude=["p_claimed"],
                                  propensity="p_arm")
    assert design_check(right).level == "ok"


def test_report_json_matches_the_report(stratified_reports):
    report = stratified_reports["p_arm"]
    numbers = json.loads((report.out_dir / "report.json").read_text())
    assert numbers["schema_version"] == 1 and numbers["arms"] == ["none", "mail"]
    scores = report.scores["mail"].set_index("model")
    by_model = {row["model"]: row for row in numbers["scores"]["mail"]}
    assert by_model["uplift tree"]["qini"] == pytest.approx(scores.loc["uplift tree", "qini"])
    assert by_model["uplift tree"]["qini_low"] == pytest.approx(scores.loc["uplift tree", "qini_low"])
    sheet = pd.read_csv(report.out_dir / "rules.csv")
    assert [row["leaf_id"] for row in numbers["segments"]] == sheet["leaf_id"].tolist()
    assert numbers["segments"][0]["uplift"] == pytest.approx(sheet["uplift"].iloc[0], abs=1e-6)
    assert len(numbers["deciles"]["mail"]) == 10
    policy = {row["policy"]: row for row in numbers["policy"]["rows"]}
    assert {"policy", "treat none", "random (same shares)"} <= set(policy)
    # The HTML's average-effect card shows the JSON's numbers.
    effect = numbers["effects"][0]
    html = unescape(report.html.read_text())
    card = html[html.index('id="card-effect"'):]
    assert f"{effect['effect'] * 100:+.1f}" in card[:600] or f"{effect['effect'] * 100:+.2f}" in card[:600]


def test_forest_bands_give_each_decile_the_interval_of_its_mean_predicted_uplift(tmp_path):
    """With forest_bands the forest is grown in little bags and every decile row of report.json has the interval
    of the forest's mean predicted uplift over the decile's held-out rows; without, the bounds are null."""
    from upliftree.metrics import calibration_table, score_bins
    from upliftree.report.evaluation import with_forest_bands

    frame = make_uplift_data(4_000, n_treatments=2, outcome="continuous", random_state=21)
    experiment = experiment_from_frame(frame, treatment="treatment", control="control", outcome="outcome",
                                       features=FEATURES)
    settings = ReportSettings(max_depth=2, n_estimators=8, n_boot=10, learners=(), search_seconds=None,
                              forest_bands=True)
    report = make_report(experiment, tmp_path / "bands", settings)
    forest = report.forest
    assert (forest.ci_group_size, forest.honest, forest.bootstrap, forest.max_samples) == (2, True, False, 0.5)
    numbers = json.loads(report.files["report.json"].read_text())
    for label in ("email", "discount"):
        rows = numbers["deciles"][label]
        assert len(rows) == 10
        for row in rows:
            assert row["predicted_low"] < row["predicted_uplift"] < row["predicted_high"]
    html = unescape(report.html.read_text())
    assert "Predicted uplift (95% CI)" in html and "in pairs of trees sharing half of the rows" in html
    # The bands are the forest's group intervals over the deciles of its scores, row for row.
    X, treatment, y = experiment.X.iloc[:1500], experiment.treatment[:1500], experiment.y[:1500]
    code = list(forest.treatments_).index("discount")
    rows = (treatment == "discount") | (treatment == "control")
    score = forest.predict(X[rows])[:, code - 1]
    table = with_forest_bands(calibration_table(y[rows], score, (treatment[rows] == "discount").astype(int)), forest,
                              X[rows], score, code, 0.05)
    expected = forest.predict_group_interval(X[rows], score_bins(score))
    expected = expected[expected["treatment"] == "discount"]
    np.testing.assert_allclose(table["predicted_low"], expected["ci_low"])
    np.testing.assert_allclose(table["predicted_high"], expected["ci_high"])
    np.testing.assert_allclose(table["predicted_uplift"], expected["uplift"], rtol=1e-9)

    plain = make_report(experiment, tmp_path / "plain", replace(settings, forest_bands=False))
    rows = json.loads(plain.files["report.json"].read_text())["deciles"]["email"]
    assert all(row["predicted_low"] is None and row["predicted_high"] is None for row in rows)
    assert "Predicted uplift (95% CI)" not in unescape(plain.html.read_text())
    with pytest.raises(ValueError, match="n_estimators must be even and at least 4, got 5"):
        replace(settings, n_estimators=5).check()
