"""Drift monitoring: compare new data with the training data a model remembers.

At fit time, :func:`record_training_profile` stores on the model (``training_profile_``, saved in the JSON
model file) a compact picture of the training rows: each feature's distribution over a few bins, its
missing rate, the distribution of predicted uplift (and, with a policy, of net value and the share of rows
it would treat) and the share of rows in each leaf of a tree. :func:`drift_report` scores new rows the same
way and flags the checks whose change passes a documented threshold (``docs/cli.md``, "monitor"):

========================  ==============================================  ======================
check                     statistic                                       flagged when
========================  ==============================================  ======================
``feature``               population stability index (PSI) of the bins    PSI > 0.25 (0.1: watch)
``missing_rate``          absolute change of the share of missing values  change > 0.05
``uplift``                PSI of predicted uplift over training deciles   PSI > 0.25 (0.1: watch)
``net_value``             PSI of net value over training deciles          PSI > 0.25 (0.1: watch)
``eligibility_rate``      absolute change of the share of rows treated    change > 0.05
``segments``              PSI of the share of rows per leaf               PSI > 0.25 (0.1: watch)
``segment_share``         absolute change of one leaf's share of rows     change > 0.05
========================  ==============================================  ======================

PSI = sum over bins of ``(new - training) * ln(new / training)``, shares floored at 1e-4; the usual reading
is < 0.1 stable, 0.1-0.25 a moderate shift worth watching, > 0.25 a major shift.

These checks watch the inputs and the scores, not the effect: an effect that vanishes while the customers stay
the same moves none of them. :func:`effect_report` watches the effect itself on fresh randomized rows (an
exploration bucket with its logged probabilities, a holdout): per period the average effect, the effect among
the model's top rows and in each segment, and the Qini coefficient, with a test of decay against a reference
period whose error over the whole run is controlled (docs/metrics.md, "Monitoring effects").
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from ._base import TREE, model_kind
from ._validation import PooledCategories, as_pandas, check_n_rows, encode_features

__all__ = [
    "EFFECT_COLUMNS",
    "PROFILE_VERSION",
    "PSI_MAJOR",
    "PSI_MODERATE",
    "RATE_CHANGE",
    "check_profile",
    "drift_report",
    "effect_report",
    "population_stability_index",
    "record_training_profile",
    "training_profile",
]

PROFILE_VERSION = 1
N_GROUPS = 10  # bins per feature / score distribution: deciles of the training rows
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
RATE_CHANGE = 0.05  # absolute change of a missing rate or of the treated share that gets flagged
SHARE_FLOOR = 1e-4  # an empty bin would make the PSI infinite


# -- building a profile ------------------------------------------------------------------------------------
def _numeric_groups(bin_codes: np.ndarray, thresholds: np.ndarray, n_bins: int, missing_bin: int) -> np.ndarray:
    """Upper edges of about ``N_GROUPS`` groups of adjacent bins holding equal shares of the training rows.

    Edges are bin edges (observed values), so a value ``x`` belongs to group ``searchsorted(edges, x)``.
    """
    counts = np.bincount(bin_codes, minlength=missing_bin + 1)[:n_bins].astype(np.float64)
    if counts.sum() == 0 or len(thresholds) == 0:
        return np.empty(0)
    cumulative = np.cumsum(counts) / counts.sum()
    last_bins = np.unique(np.searchsorted(cumulative, np.arange(1, N_GROUPS) / N_GROUPS, side="left"))
    return thresholds[last_bins[last_bins < len(thresholds)]]


def _shares(groups: np.ndarray, n_groups: int) -> list[float]:
    return (np.bincount(groups, minlength=n_groups)[:n_groups] / max(len(groups), 1)).tolist()


def _distribution(values: np.ndarray) -> dict[str, Any]:
    """Decile edges (observed values) of a score and the share of rows in each group."""
    edges = np.unique(np.quantile(values, np.arange(1, N_GROUPS) / N_GROUPS, method="inverted_cdf"))
    edges = edges[edges < values.max()]
    return {"edges": edges.tolist(), "shares": _shares(np.searchsorted(edges, values), len(edges) + 1),
            "mean": float(values.mean())}


def _score_distributions(scores: np.ndarray, labels: list[Any]) -> list[dict[str, Any]]:
    return [{"treatment": label, **_distribution(scores[:, column])} for column, label in enumerate(labels)]


def _uplift_matrix(model: Any, X: Any) -> np.ndarray:
    uplift = np.asarray(model.predict(X), dtype=np.float64)
    return uplift[:, None] if uplift.ndim == 1 else uplift


def _policy_settings(policy: Any, treatments: list[Any]) -> dict[str, Any]:
    """Benefit and cost of a :class:`~upliftree.policy.Policy` with numbers only, so it can be rebuilt."""
    for name in ("cost", "risk_penalty"):
        value = getattr(policy, name)
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ValueError(f"a training profile records a policy whose {name} is a number; got {value!r} "
                             "(per-row amounts cannot be replayed on new data)")
    if policy.harm_model is not None:
        raise ValueError("a training profile cannot record a policy with a harm_model")
    return {"benefit": [float(value) for value in policy.treatment_benefit], "cost": float(policy.cost),
            "risk_penalty": float(policy.risk_penalty), "treatments": treatments}


def _policy_picture(policy: Any, X: Any, labels: list[Any]) -> dict[str, Any]:
    net_value = policy.net_value(X).to_numpy(dtype=np.float64)[:, 1:]
    treated = policy.decide(X) != policy.treatments_[0]
    return {"net_value": _score_distributions(net_value, labels), "treated_share": float(np.mean(treated))}


def training_profile(model: Any, X: Any, policy: Any = None) -> dict[str, Any]:
    """A JSON-ready picture of the training rows ``X`` of a fitted tree or forest.

    Parameters
    ----------
    model : fitted upliftree tree or forest
        Needs ``bin_mapper_`` (a freshly fitted model, not one read from JSON).
    X : DataFrame or 2-D array
        The rows the model was fitted on.
    policy : Policy, optional
        With numeric ``cost`` and ``risk_penalty``: also record the net-value distribution and the share of
        rows the threshold rule treats (net value > 0).

    Returns
    -------
    dict
        ``version``, ``n_rows``, ``features`` (per feature: ``name``, ``kind``, ``edges`` or ``categories``,
        ``shares`` per group, ``missing_share``), ``uplift`` (per treatment: ``edges``, ``shares``, ``mean``),
        ``segments`` (trees: ``leaf_ids`` and ``shares``, else None) and ``policy`` (None without one).
    """
    kind = model_kind(model)
    if not hasattr(model, "bin_mapper_"):
        raise ValueError("training_profile needs the model right after fit (bin_mapper_); a model read from "
                         "JSON has no bins")
    X = as_pandas(X, "X")
    encoded = encode_features(X, model.schema_)
    mapper = model.bin_mapper_
    binned = mapper.transform(encoded)
    features = []
    for index, (name, categories) in enumerate(zip(model.schema_.names, model.schema_.categories, strict=True)):
        values = encoded[:, index]
        missing = np.isnan(values)
        entry: dict[str, Any] = {"name": name}
        if categories is None:
            edges = _numeric_groups(binned[index], mapper.bin_thresholds_[index],
                                    int(mapper.n_bins_non_missing_[index]), mapper.missing_bin_)
            entry.update(kind="numeric", edges=edges.tolist(),
                         shares=_shares(np.searchsorted(edges, values[~missing]), len(edges) + 1))
        else:
            # A pooled group of rare categories (one code) is recorded by its readable name.
            entry.update(kind="categorical", categories=[str(value) if isinstance(value, PooledCategories) else value
                                                         for value in categories],
                         shares=_shares(values[~missing].astype(np.int64), len(categories)))
        # Group shares are among non-missing rows; the missing share is its own check.
        entry["missing_share"] = float(missing.mean())
        features.append(entry)
    labels = list(model.treatments_[1:])
    profile: dict[str, Any] = {
        "version": PROFILE_VERSION,
        "n_rows": int(len(encoded)),
        "features": features,
        "uplift": _score_distributions(_uplift_matrix(model, X), labels),
        "segments": None,
        "policy": None,
    }
    if kind == TREE:
        leaves = model.tree_.leaf_ids
        counts = np.bincount(np.searchsorted(leaves, model.tree_.apply(encoded)), minlength=len(leaves))
        profile["segments"] = {"leaf_ids": leaves.tolist(), "shares": (counts / len(encoded)).tolist()}
    if policy is not None:
        profile["policy"] = {**_policy_settings(policy, list(model.treatments_)),
                             **_policy_picture(policy, X, labels)}
    return check_profile(profile)


def record_training_profile(model: Any, X: Any, policy: Any = None) -> dict[str, Any]:
    """Compute :func:`training_profile` and store it as ``model.training_profile_`` (saved with the model)."""
    model.training_profile_ = training_profile(model, X, policy)
    return model.training_profile_


# -- checking a profile (JSON model files hold one) -----------------------------------------------------------
def _fail(path: str, message: str) -> ValueError:
    return ValueError(f"training_profile.{path}: {message}")


def _mapping(value: Any, path: str, keys: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, f"expected an object, got {type(value).__name__}")
    if sorted(value) != sorted(keys):
        raise _fail(path, f"expected the fields {sorted(keys)}, got {sorted(value)}")
    return value


def _numbers(value: Any, path: str, length: int | None = None) -> list[float]:
    if not isinstance(value, list) or not all(
            isinstance(item, int | float) and not isinstance(item, bool) and np.isfinite(item) for item in value):
        raise _fail(path, "expected an array of finite numbers")
    if length is not None and len(value) != length:
        raise _fail(path, f"expected {length} numbers, got {len(value)}")
    return [float(item) for item in value]


def _share_list(value: Any, path: str, length: int) -> list[float]:
    shares = _numbers(value, path, length)
    if any(share < 0 or share > 1 for share in shares) or sum(shares) > 1 + 1e-6:
        raise _fail(path, "shares must lie in [0, 1] and sum to at most 1")
    return shares


def _increasing(value: Any, path: str) -> list[float]:
    edges = _numbers(value, path)
    if any(later <= earlier for earlier, later in zip(edges, edges[1:], strict=False)):
        raise _fail(path, "edges must be strictly increasing")
    return edges


def _checked_distribution(value: Any, path: str, key: str) -> dict[str, Any]:
    entry = _mapping(value, path, (key, "edges", "shares", "mean"))
    edges = _increasing(entry["edges"], f"{path}.edges")
    return {key: entry[key], "edges": edges, "shares": _share_list(entry["shares"], f"{path}.shares", len(edges) + 1),
            "mean": _numbers([entry["mean"]], f"{path}.mean")[0]}


def _distributions(value: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise _fail(path, "expected a non-empty array")
    return [_checked_distribution(item, f"{path}[{index}]", "treatment") for index, item in enumerate(value)]


def _checked_feature(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict) or value.get("kind") not in ("numeric", "categorical"):
        raise _fail(path, "expected an object with kind 'numeric' or 'categorical'")
    numeric = value["kind"] == "numeric"
    entry = _mapping(value, path, ("name", "kind", "edges" if numeric else "categories", "shares", "missing_share"))
    if not isinstance(entry["name"], str):
        raise _fail(f"{path}.name", "expected a string")
    checked: dict[str, Any] = {"name": entry["name"], "kind": entry["kind"]}
    if numeric:
        checked["edges"] = _increasing(entry["edges"], f"{path}.edges")
        n_groups = len(checked["edges"]) + 1
    else:
        if not isinstance(entry["categories"], list):
            raise _fail(f"{path}.categories", "expected an array")
        checked["categories"] = list(entry["categories"])
        n_groups = len(checked["categories"])
    checked["shares"] = _share_list(entry["shares"], f"{path}.shares", n_groups)
    checked["missing_share"] = _share_list([entry["missing_share"]], f"{path}.missing_share", 1)[0]
    return checked


def check_profile(value: Any) -> dict[str, Any]:
    """Validate a training profile (e.g. read from a JSON model file); raises ``ValueError`` naming the field."""
    profile = _mapping(value, "", ("version", "n_rows", "features", "uplift", "segments", "policy"))
    if profile["version"] != PROFILE_VERSION:
        raise _fail("version", f"expected {PROFILE_VERSION}, got {profile['version']!r}")
    n_rows = profile["n_rows"]
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 1:
        raise _fail("n_rows", "expected a positive integer")
    if not isinstance(profile["features"], list) or not profile["features"]:
        raise _fail("features", "expected a non-empty array")
    checked: dict[str, Any] = {
        "version": PROFILE_VERSION,
        "n_rows": n_rows,
        "features": [_checked_feature(item, f"features[{index}]") for index, item in enumerate(profile["features"])],
        "uplift": _distributions(profile["uplift"], "uplift"),
        "segments": None,
        "policy": None,
    }
    if profile["segments"] is not None:
        segments = _mapping(profile["segments"], "segments", ("leaf_ids", "shares"))
        leaf_ids = segments["leaf_ids"]
        if not isinstance(leaf_ids, list) or not all(isinstance(leaf, int) and not isinstance(leaf, bool)
                                                     for leaf in leaf_ids):
            raise _fail("segments.leaf_ids", "expected an array of integers")
        checked["segments"] = {"leaf_ids": leaf_ids,
                               "shares": _share_list(segments["shares"], "segments.shares", len(leaf_ids))}
    if profile["policy"] is not None:
        policy = _mapping(profile["policy"], "policy",
                          ("benefit", "cost", "risk_penalty", "treatments", "net_value", "treated_share"))
        if not isinstance(policy["treatments"], list) or len(policy["treatments"]) < 2:
            raise _fail("policy.treatments", "expected the arm labels, control first")
        checked["policy"] = {
            "benefit": _numbers(policy["benefit"], "policy.benefit", len(policy["treatments"]) - 1),
            "cost": _numbers([policy["cost"]], "policy.cost")[0],
            "risk_penalty": _numbers([policy["risk_penalty"]], "policy.risk_penalty")[0],
            "treatments": list(policy["treatments"]),
            "net_value": _distributions(policy["net_value"], "policy.net_value"),
            "treated_share": _share_list([policy["treated_share"]], "policy.treated_share", 1)[0],
        }
    return checked


# -- comparing new data with the profile -----------------------------------------------------------------------
def population_stability_index(expected: Any, actual: Any, floor: float = SHARE_FLOOR) -> float:
    """PSI of two distributions over the same bins: ``sum((actual - expected) * ln(actual / expected))``.

    Shares below ``floor`` are raised to it, so an empty bin gives a large but finite index.
    """
    expected = np.maximum(np.asarray(expected, dtype=np.float64), floor)
    actual = np.maximum(np.asarray(actual, dtype=np.float64), floor)
    if expected.shape != actual.shape or expected.ndim != 1:
        raise ValueError(f"expected and actual must be 1-D shares over the same bins, got shapes "
                         f"{expected.shape} and {actual.shape}")
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _psi_level(psi: float) -> str:
    if psi > PSI_MAJOR:
        return "major shift"
    return "moderate shift" if psi > PSI_MODERATE else "stable"


def _psi_row(check: str, name: str, training: float, new: float, expected: list[float],
             actual: list[float]) -> dict[str, Any]:
    psi = population_stability_index(expected, actual)
    return {"check": check, "name": name, "training": training, "new": new, "statistic": "psi", "value": psi,
            "threshold": PSI_MAJOR, "flagged": psi > PSI_MAJOR, "level": _psi_level(psi)}


def _rate_row(check: str, name: str, training: float, new: float) -> dict[str, Any]:
    change = new - training
    flagged = abs(change) > RATE_CHANGE
    return {"check": check, "name": name, "training": training, "new": new, "statistic": "change",
            "value": change, "threshold": RATE_CHANGE, "flagged": flagged,
            "level": "changed" if flagged else "stable"}


def _distribution_rows(check: str, reference: list[dict[str, Any]], scores: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for column, entry in enumerate(reference):
        values = scores[:, column]
        actual = _shares(np.searchsorted(entry["edges"], values), len(entry["shares"]))
        rows.append(_psi_row(check, str(entry["treatment"]), entry["mean"], float(values.mean()),
                             entry["shares"], actual))
    return rows


def _feature_rows(entry: dict[str, Any], values: np.ndarray, raw_missing: np.ndarray) -> list[dict[str, Any]]:
    missing = np.isnan(values)
    expected = entry["shares"]
    if entry["kind"] == "numeric":
        actual = _shares(np.searchsorted(entry["edges"], values[~missing]), len(expected))
        note = ""
    else:
        # A category unseen at fit time is a bin of its own, empty in the training rows.
        given = values[~raw_missing]
        unseen = np.isnan(given)
        actual = _shares(np.where(unseen, len(expected), given).astype(np.int64), len(expected) + 1)
        expected = [*expected, 0.0]
        note = f"; {unseen.mean():.1%} of values are categories unseen at fit time" if unseen.any() else ""
    psi = _psi_row("feature", entry["name"], np.nan, np.nan, expected, actual)
    psi["level"] += note
    return [psi, _rate_row("missing_rate", entry["name"], entry["missing_share"], float(raw_missing.mean()))]


def _raw_missing(X: Any, names: tuple[str, ...], n_rows: int) -> np.ndarray:
    """Missing values as given (NaN / None), before unseen categories are mapped to missing."""
    if isinstance(X, pd.DataFrame):
        columns = {str(column): column for column in X.columns}
        return np.column_stack([X[columns[name]].isna().to_numpy() for name in names])
    return np.isnan(np.asarray(X, dtype=np.float64)).reshape(n_rows, len(names))


def drift_report(model: Any, X: Any, profile: dict[str, Any] | None = None) -> pd.DataFrame:
    """Compare new rows ``X`` with the training profile; one row per check, flagged ones marked.

    Parameters
    ----------
    model : fitted upliftree tree or forest
        The model that will score ``X`` (a model read from JSON works).
    X : DataFrame or 2-D array
        New rows with the model's feature columns.
    profile : dict, optional
        A training profile; default ``model.training_profile_``.

    Returns
    -------
    DataFrame
        Columns ``check`` (feature, missing_rate, uplift, net_value, eligibility_rate, segments,
        segment_share), ``name`` (feature, treatment or leaf), ``training`` and ``new`` (missing rate, mean
        score, treated share or leaf share; NaN for the PSI of a feature or of all leaves), ``statistic``
        ("psi" or "change"), ``value``, ``threshold``,
        ``flagged`` and ``level`` (stable, moderate shift, major shift, changed). ``attrs["n_rows"]`` holds the
        number of new rows.
    """
    kind = model_kind(model)
    if profile is None:
        profile = getattr(model, "training_profile_", None)
        if profile is None:
            raise ValueError("the model has no training profile: record one at fit time with "
                             "upliftree.monitor.record_training_profile(model, X_train) (the upliftree fit and "
                             "report commands do) and save the model again")
    profile = check_profile(profile)
    X = as_pandas(X, "X")
    n_rows = check_n_rows(X)
    names = tuple(entry["name"] for entry in profile["features"])
    if names != tuple(model.schema_.names):
        raise ValueError(f"the training profile describes the features {list(names)}, but the model has "
                         f"{list(model.schema_.names)}")
    encoded = encode_features(X, model.schema_)
    raw_missing = _raw_missing(X, names, n_rows)
    rows: list[dict[str, Any]] = []
    for index, entry in enumerate(profile["features"]):
        rows += _feature_rows(entry, encoded[:, index], raw_missing[:, index])
    rows += _distribution_rows("uplift", profile["uplift"], _uplift_matrix(model, X))
    if profile["policy"] is not None:
        from .policy import Policy

        settings = profile["policy"]
        policy = Policy(model, benefit=settings["benefit"], cost=settings["cost"],
                        risk_penalty=settings["risk_penalty"])
        rows += _distribution_rows("net_value", settings["net_value"],
                                   policy.net_value(X).to_numpy(dtype=np.float64)[:, 1:])
        treated = float(np.mean(policy.decide(X) != policy.treatments_[0]))
        rows.append(_rate_row("eligibility_rate", "treated share", settings["treated_share"], treated))
    if profile["segments"] is not None and kind == TREE:
        leaf_ids = np.asarray(profile["segments"]["leaf_ids"])
        leaf = model.tree_.apply(encoded)
        actual = [float(np.mean(leaf == leaf_id)) for leaf_id in leaf_ids]
        rows.append(_psi_row("segments", "all leaves", np.nan, np.nan, profile["segments"]["shares"], actual))
        rows += [_rate_row("segment_share", f"leaf {leaf_id}", training, new)
                 for leaf_id, training, new in zip(leaf_ids, profile["segments"]["shares"], actual, strict=True)]
    report = pd.DataFrame(rows, columns=["check", "name", "training", "new", "statistic", "value", "threshold",
                                         "flagged", "level"])
    report.attrs["n_rows"] = n_rows
    return report


# -- effects on fresh randomized data ---------------------------------------------------------------------------
EFFECT_COLUMNS = ("period", "check", "name", "n_rows", "units", "estimate", "std_error", "low", "high",
                  "reference", "difference", "difference_std_error", "z", "level", "threshold", "flagged")
EFFECT_CHECKS = ("effect", "uplift_at_k", "segment", "qini")


def _period_codes(period: Any, n_rows: int, reference: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Sorted period labels, each row's code and the reference period's code (the first by default)."""
    from .metrics.groups import group_codes

    labels, codes = group_codes(period, n_rows, "period")
    if len(labels) < 2:
        raise ValueError(f"period has a single value {labels[0]!r}: effects are compared between periods, so give "
                         "the rows of at least two periods (the reference and a later one)")
    if reference is None:
        return labels, codes, 0
    matches = [code for code, label in enumerate(labels) if label == reference]
    if not matches:
        raise ValueError(f"reference={reference!r} is not a value of period; periods: {labels.tolist()[:10]}")
    if matches[0] > 0:
        raise ValueError(f"reference={reference!r} is not the earliest period ({labels[0]!r}): drop the rows of "
                         "earlier periods, the monitor compares later periods with the reference")
    return labels, codes, 0


def _hajek_contrast(y: np.ndarray, treated: np.ndarray, weight: np.ndarray, unit: np.ndarray,
                    parts: list[tuple[np.ndarray, float]]) -> tuple[float, float, int]:
    """A signed sum of treated-minus-control Hájek differences and its linearized variance over units.

    ``parts`` holds ``(row_weight, sign)`` pairs (rows outside a part weigh 0). Each arm mean ``m = S / W`` of a
    part has the influence ``w (y - m) / W`` per row; a unit's influence is the sum over its rows of every part's,
    signed, and the variance ``G / (G - 1) sum_u influence_u**2`` over the ``G`` units with rows in a part (the
    covariance of parts sharing a unit, e.g. a store in both periods, is in it). NaN when an arm of a part has
    fewer than 2 units.
    """
    # Only the rows of some part count: a period's rows of a long log.
    rows = np.flatnonzero(np.any([row_weight > 0 for row_weight, _ in parts], axis=0))
    y, treated, weight, unit = y[rows], treated[rows], weight[rows], unit[rows]
    parts = [(row_weight[rows], sign) for row_weight, sign in parts]
    influence = np.zeros(len(y))
    estimate = 0.0
    used = np.zeros(len(y), dtype=bool)
    for row_weight, sign in parts:
        for arm, arm_sign in ((treated, 1.0), (~treated, -1.0)):
            w = np.where(arm, weight * row_weight, 0.0)
            total = w.sum()
            if total <= 0 or len(np.unique(unit[w > 0])) < 2:
                return np.nan, np.nan, 0
            mean = float(np.dot(w, y) / total)
            estimate += sign * arm_sign * mean
            influence += sign * arm_sign * w * (y - mean) / total
            used |= w > 0
    units, unit_code = np.unique(unit[used], return_inverse=True)
    unit_influence = np.bincount(unit_code, weights=influence[used])
    n_units = len(units)
    variance = n_units / (n_units - 1) * float(np.dot(unit_influence, unit_influence))
    return estimate, variance, n_units


def effect_report(
    y_true: Any, treatment: Any, period: Any, *, uplift: Any = None, segment: Any = None, reference: Any = None,
    k: float = 0.3, alpha: float = 0.05, n_boot: int = 200, random_state: Any = None, propensity: Any = None,
    cluster: Any = None,
) -> pd.DataFrame:
    """Track the treatment effect on fresh randomized data over periods and flag its decay.

    Give the rows of randomized assignment only: an exploration bucket with its logged probabilities
    (``propensity=``, e.g. ``assignment_probability`` of :func:`upliftree.policy_test.assign`), a holdout, a
    fresh experiment. Every period after the reference gets these checks, each a (Hájek, design-weighted)
    treated minus control difference compared with the same in the reference period:

    - ``effect``: the average effect on all rows of the period;
    - ``uplift_at_k`` (with ``uplift``): the effect among the period's top ``k`` rows by the model's score;
    - ``segment`` (with ``segment``): the effect in each segment (a leaf, a channel, a policy's action);
    - ``qini`` (with ``uplift``): the Qini coefficient of the scores with a bootstrap interval, reported, not
      tested (its interval is wide; a ranking that decays shows in ``uplift_at_k`` and the segments).

    **The test** (docs/metrics.md, "Monitoring effects"): with ``d = estimate - reference`` and its design-based
    standard error ``s`` (linearized over the units of randomization, clusters with ``cluster``, covariance of a
    cluster in both periods included), ``z = -d / s``; the ``j``-th period after the reference spends
    ``alpha / (j (j + 1))`` (these sum to ``alpha`` over any number of periods, so a period's verdict never
    changes as periods are added), split equally (Bonferroni) over its ``m`` tested checks: a check is flagged
    when ``z > Phi^-1(1 - alpha / (j (j + 1) m))``. So a stable effect is flagged anywhere, over the whole
    monitoring run, with probability at most about ``alpha`` (normal approximation).

    Parameters
    ----------
    y_true, treatment : array-like
        Outcome and 1 (treated) / 0 (control); with several arms, one arm's rows against control.
    period : array-like
        Each row's period (week, month: sortable labels); the earliest is the reference unless ``reference``.
    uplift : array-like, optional
        The model's predicted uplift of each row (adds ``uplift_at_k`` and ``qini``).
    segment : array-like, optional
        Each row's segment label (adds a ``segment`` check per segment).
    reference : label, optional
        The reference period: the earliest one (periods before it are refused).
    k : float in (0, 1)
        Share of each period's rows that ``uplift_at_k`` reads.
    alpha : float
        Family-wise error of the whole run of checks.
    n_boot, random_state :
        Bootstrap resamples and seed of the Qini intervals (``n_boot=0``: no ``qini`` rows).
    propensity, cluster : optional
        The design, as in :func:`upliftree.metrics.uplift_curve`: the logged probability of the arm each row
        received, and the unit of randomization (or of correlated outcomes, e.g. a store).

    Returns
    -------
    DataFrame
        One row per period and check, the reference period's first: :data:`EFFECT_COLUMNS` (``low``/``high``:
        the estimate's ``1 - alpha`` interval, normal; ``level``: the one-sided level the check is tested at;
        ``threshold``: the ``z`` that flags it). ``attrs["flagged_periods"]`` lists the periods with a flag.
    """
    from scipy.stats import norm

    from ._params import check_alpha, check_real
    from .metrics import qini_by_group
    from .metrics._inputs import check_inputs
    from .metrics.groups import group_codes, top_share_weights

    data = check_inputs(y_true, uplift, treatment, propensity=propensity, cluster=cluster)
    alpha = check_alpha(alpha)
    k = check_real(k, "k", 0.0, 1.0, open_low=True, open_high=True)
    n_rows = len(data.y)
    labels, codes, ref = _period_codes(period, n_rows, reference)
    weight = np.ones(n_rows) if data.weight is None else data.weight
    unit = np.arange(n_rows) if data.cluster is None else data.cluster
    in_period = [codes == code for code in range(len(labels))]
    checks: list[tuple[str, str, list[np.ndarray]]] = [("effect", "all rows", [rows * 1.0 for rows in in_period])]
    if data.score is not None:
        top = []
        for rows in in_period:
            share = np.zeros(n_rows)
            share[rows] = top_share_weights(data.score[rows], k)
            top.append(share)
        checks.append(("uplift_at_k", f"top {k:.0%}", top))
    if segment is not None:
        segment_labels, segment_codes = group_codes(segment, n_rows, "segment")
        for code, label in enumerate(segment_labels):
            checks.append(("segment", str(label), [(rows & (segment_codes == code)) * 1.0 for rows in in_period]))
    qini = None
    if data.score is not None and n_boot:
        qini = qini_by_group(data.y, data.score, data.treated.astype(np.int64), codes, k=k, n_boot=n_boot,
                             alpha=alpha, random_state=random_state, propensity=data.received, cluster=data.cluster)
    z_normal = norm.ppf(1 - alpha / 2)
    rows_out = []
    for period_code, label in enumerate(labels):
        j = period_code - ref
        level = alpha / (j * (j + 1)) / len(checks) if j > 0 else np.nan
        threshold = norm.ppf(1 - level) if j > 0 else np.nan
        for check, name, part_weights in checks:
            part = part_weights[period_code]
            estimate, variance, units = _hajek_contrast(data.y, data.treated, weight, unit, [(part, 1.0)])
            row = {"period": label, "check": check, "name": name, "n_rows": int((part > 0).sum()), "units": units,
                   "estimate": estimate, "std_error": np.sqrt(variance),
                   "low": estimate - z_normal * np.sqrt(variance), "high": estimate + z_normal * np.sqrt(variance),
                   "reference": np.nan, "difference": np.nan, "difference_std_error": np.nan, "z": np.nan,
                   "level": level, "threshold": threshold, "flagged": False}
            if j > 0:
                row["reference"] = _hajek_contrast(data.y, data.treated, weight, unit,
                                                   [(part_weights[ref], 1.0)])[0]
                difference, difference_variance, _ = _hajek_contrast(
                    data.y, data.treated, weight, unit, [(part, 1.0), (part_weights[ref], -1.0)])
                with np.errstate(divide="ignore", invalid="ignore"):
                    z = -difference / np.sqrt(difference_variance)
                row.update(difference=difference, difference_std_error=np.sqrt(difference_variance), z=z,
                           flagged=bool(z > threshold))
            rows_out.append(row)
        if qini is not None:
            result = qini.iloc[period_code]
            rows_out.append({"period": label, "check": "qini", "name": "Qini coefficient", "n_rows": result.n_rows,
                             "units": result.units_treatment + result.units_control, "estimate": result.qini,
                             "low": result.qini_low, "high": result.qini_high, "flagged": False})
    report = pd.DataFrame(rows_out, columns=list(EFFECT_COLUMNS))
    report["flagged"] = report["flagged"].astype(bool)
    report.attrs["flagged_periods"] = sorted(set(report.loc[report["flagged"], "period"].tolist()))
    return report
