"""The honest headline: the policy against the simple alternatives (known truth), and its intervals as claims."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from upliftree import Policy, UpliftTreeClassifier, make_uplift_data
from upliftree.datasets import FEATURES
from upliftree.policy import compare_with_baselines

COST = 0.1
CUT = 0.3  # the evaluated policy treats rows with x > CUT


def _clustered_experiment(generator: np.random.Generator, n_clusters: int = 120, size: int = 6) -> pd.DataFrame:
    """Clusters randomized whole, with probability 0.25 or 0.75 by a cluster-level stratum that also moves
    the outcome and the effect: uplift(x, s) = 0.5 x + 0.4 s, so arm shares alone give a biased value."""
    stratum = generator.random(n_clusters) < 0.5
    treated = generator.random(n_clusters) < np.where(stratum, 0.75, 0.25)
    cluster = np.repeat(np.arange(n_clusters), size)
    x = generator.standard_normal(len(cluster))
    s, a = stratum[cluster].astype(float), treated[cluster]
    cluster_level = generator.normal(0.0, 1.5, n_clusters)[cluster]
    y = 2.0 * s + cluster_level + 0.3 * x + a * (0.5 * x + 0.4 * s) + generator.normal(0.0, 1.0, len(x))
    p_arm = np.where(a, np.where(s > 0, 0.75, 0.25), np.where(s > 0, 0.25, 0.75))
    return pd.DataFrame({"x": x, "cluster": cluster, "treatment": np.where(a, "t", "c"), "y": y, "p_arm": p_arm})


def _true_gains(treated_share: float) -> dict[str, float]:
    """Population net values (benefit 1, cost COST): treat all = E[uplift] - COST = 0.2 - COST; the policy
    1[x > CUT] = 0.5 phi(CUT) + (0.2 - COST) (1 - Phi(CUT)); random targeting with the sample's share."""
    treat_all = 0.2 - COST
    policy = 0.5 * norm.pdf(CUT) + (0.2 - COST) * norm.sf(CUT)
    return {"treat none": policy, "treat all: t": policy - treat_all,
            "random (same shares)": policy - treated_share * treat_all}


def test_comparison_intervals_cover_the_true_gains_and_naive_ones_fail():
    """Over 150 simulated cluster-randomized experiments with stratified probabilities, the design-aware gain
    intervals (cluster bootstrap, known propensities) cover every true gain at about 95%; the row bootstrap
    is too narrow and arm shares as propensities are biased."""
    generator = np.random.default_rng(2024)
    n_reps, n_naive = 150, 60  # the naive intervals fail by far, in fewer replications
    names = ["treat none", "treat all: t", "random (same shares)"]
    covered = {method: {name: 0 for name in names} for method in ("design", "rows", "shares")}
    for rep in range(n_reps):
        data = _clustered_experiment(generator)
        assignments = np.where(data["x"] > CUT, "t", "c")
        truth = _true_gains(float((assignments == "t").mean()))
        shares = data["treatment"].value_counts(normalize=True).to_dict()
        designs = {"design": {"propensity": data["p_arm"], "cluster": data["cluster"]},
                   "rows": {"propensity": data["p_arm"]}, "shares": {"propensity": shares, "cluster": data["cluster"]}}
        for method, design in designs.items():
            if method != "design" and rep >= n_naive:
                continue
            table = compare_with_baselines(assignments, data[["x"]], data["treatment"], data["y"], control="c",
                                           cost=COST, n_boot=150, random_state=rep, **design).table
            for name in names:
                covered[method][name] += table.loc[name, "policy_gain_low"] <= truth[name] <= \
                    table.loc[name, "policy_gain_high"]
    coverage = {method: {name: hits / (n_reps if method == "design" else n_naive) for name, hits in by_name.items()}
                for method, by_name in covered.items()}
    for name in names:
        assert 0.88 <= coverage["design"][name] <= 0.995, coverage
    # Whole clusters were randomized: a row bootstrap misses the clusters' correlation in the gains over treating
    # no one and everyone (random targeting with the same shares differs from the policy within clusters, so
    # it is hardly affected).
    assert coverage["rows"]["treat none"] < 0.8 and coverage["rows"]["treat all: t"] < 0.8, coverage
    # Arm shares as propensities ignore the stratified design: the treated arm is mostly the stratum with the
    # larger outcome, so the gains over treating no one and everyone are biased.
    assert coverage["shares"]["treat none"] < 0.6 and coverage["shares"]["treat all: t"] < 0.6, coverage


def _constant_effect_data(n_rows: int, seed: int) -> pd.DataFrame:
    generator = np.random.default_rng(seed)
    X = pd.DataFrame(generator.standard_normal((n_rows, 4)), columns=["a", "b", "c", "d"])
    treatment = np.where(generator.random(n_rows) < 0.5, "email", "control")
    y = (generator.random(n_rows) < 0.10 + 0.05 * (treatment == "email")).astype(int)
    return X.assign(treatment=treatment, y=y)


def test_treating_everyone_is_recommended_when_it_is_truly_best():
    """Every row gains the same +5 pp (worth 0.5 at benefit 10, cost 0.2): treating everyone is the best
    policy, and a tree fitted on noise leaves some rows out. The comparison must not say the policy wins."""
    verdicts = []
    for seed in range(4):
        train, test = _constant_effect_data(20_000, seed), _constant_effect_data(20_000, 100 + seed)
        features = ["a", "b", "c", "d"]
        model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=300, control="control", honest=True,
                                     random_state=seed).fit(train[features], train["treatment"], train["y"])
        comparison = compare_with_baselines(Policy(model, benefit=10.0, cost=0.2), test[features],
                                            test["treatment"], test["y"], n_boot=200, random_state=seed)
        verdicts.append(comparison.verdict)
        assert comparison.best == "treat all: email"
        assert comparison.recommendation == "treat all: email"
        assert "Recommended: treating everyone with email" in comparison.headline()
    assert "wins" not in verdicts


def test_the_policy_wins_when_it_truly_does():
    """Planted persuadables and sleeping dogs, $25 per conversion, $0.10 per e-mail: a tree's policy beats
    treating everyone, no one and random targeting, and the headline says so with its numbers."""
    train, test = make_uplift_data(100_000, random_state=0), make_uplift_data(60_000, random_state=1)
    model = UpliftTreeClassifier(max_depth=4, min_samples_leaf=1_000, control="control", honest=True,
                                 random_state=0).fit(train[FEATURES], train["treatment"], train["outcome"])
    comparison = compare_with_baselines(Policy(model, benefit=25.0, cost=0.1), test[FEATURES], test["treatment"],
                                        test["outcome"], n_boot=200, random_state=0)
    assert comparison.verdict == "wins" and comparison.recommendation == "policy"
    table = comparison.table
    assert (table.drop(index="policy")["policy_gain_low"] > 0).all()
    headline = comparison.headline()
    assert headline.startswith("The policy wins: ")
    assert f"{table.loc['policy', 'net_value']:+.3f}" in headline


def test_budget_alternatives_spend_what_the_policy_spends():
    """Under a budget, treating everyone is over it: not feasible, and its random share at the same spend is
    the alternative (valued as that share of treating everyone)."""
    train, test = make_uplift_data(30_000, n_treatments=2, random_state=3), make_uplift_data(
        20_000, n_treatments=2, random_state=4)
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=500, control="control", honest=True,
                                 random_state=0).fit(train[FEATURES], train["treatment"], train["outcome"])
    policy = Policy(model, benefit=25.0, cost={"email": 0.2, "discount": 1.5})
    budget = 1_000.0
    comparison = compare_with_baselines(policy, test[FEATURES], test["treatment"], test["outcome"], n_boot=100,
                                        random_state=0, rule="budget", budget=budget)
    table = comparison.table
    assert table.loc["policy", "spend"] * len(test) <= budget * (1 + 1e-9)
    assert not table.loc["treat all: email", "feasible"] and not table.loc["treat all: discount", "feasible"]
    # The policy e-mails a quarter of the rows: e-mailing a random quarter is "random (same shares)", so no
    # same-spend row repeats it; the discount costs more, so the same spend buys it for fewer rows.
    assert set(table.loc[table.index.str.endswith("(same spend)")].index) == {"random: discount (same spend)"}
    assert table.loc["policy", "treated_share"] == pytest.approx(table.loc["policy", "spend"] / 0.2)
    row = table.loc["random: discount (same spend)"]
    share = table.loc["policy", "spend"] / 1.5
    assert row["feasible"] and row["treated_share"] == pytest.approx(share)
    assert row["spend"] == pytest.approx(table.loc["policy", "spend"])
    assert row["net_value"] == pytest.approx(share * table.loc["treat all: discount", "net_value"])
    outcome = table["outcome"]
    assert row["outcome"] == pytest.approx(share * outcome["treat all: discount"] + (1 - share) * outcome["treat none"])
    assert comparison.best in comparison.alternatives.index
    assert comparison.alternatives["feasible"].all()


def test_assignments_with_a_budget_and_bad_input():
    data = _clustered_experiment(np.random.default_rng(0))
    assignments = np.where(data["x"] > CUT, "t", "c")
    comparison = compare_with_baselines(assignments, data[["x"]], data["treatment"], data["y"], control="c",
                                        cost=COST, propensity=data["p_arm"], cluster=data["cluster"], n_boot=50,
                                        budget=0.05 * len(data), random_state=0)
    assert not comparison.table.loc["treat all: t", "feasible"]
    with pytest.raises(ValueError, match="budget"):
        compare_with_baselines(assignments, data[["x"]], data["treatment"], data["y"], control="c",
                               propensity=data["p_arm"], budget=-1.0)


def _card(out_dir) -> str:
    import re
    from html import unescape

    html = unescape((out_dir / "report.html").read_text())
    card = html[html.index('id="card-policy"'):]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card[:card.index('id="card-checks"')]))


@pytest.mark.parametrize("planted", ["treat all best", "policy wins"])
def test_report_policy_card_states_the_verdict(tmp_path, planted):
    """The report's card and report.json say whether the policy beats the best simple alternative."""
    import json

    from upliftree.report import ReportSettings, experiment_from_frame, make_report

    settings = ReportSettings(max_depth=3, n_estimators=3, n_boot=100, learners=(), benefit=10.0, cost=0.2,
                              min_samples_leaf=1_000)
    if planted == "treat all best":
        frame, features = _constant_effect_data(40_000, 7), ["a", "b", "c", "d"]
        experiment = experiment_from_frame(frame, treatment="treatment", control="control", outcome="y",
                                           features=features)
    else:
        frame = make_uplift_data(150_000, random_state=3)
        experiment = experiment_from_frame(frame, treatment="treatment", control="control", outcome="outcome",
                                           features=FEATURES)
        settings = replace(settings, benefit=25.0, cost=0.1, max_depth=4)
    report = make_report(experiment, tmp_path, settings)
    policy = json.loads((report.out_dir / "report.json").read_text())["policy"]
    card = _card(report.out_dir)
    if planted == "treat all best":
        assert policy["verdict"] != "wins" and policy["recommendation"] == "treat all: email"
        assert "Recommended: treating everyone with email" in card and "as good or better" in card
    else:
        assert policy["verdict"] == "wins" and policy["recommendation"] == "policy"
        net = next(row["net_value"] for row in policy["rows"] if row["policy"] == "policy")
        assert "The policy wins" in card and f"{net:+.3f}" in card
    page = (report.out_dir / "report.html").read_text()
    headline = page[page.index('id="policy-headline"'):]
    assert policy["headline"].split(":")[0] in headline[:headline.index("</p>")]
