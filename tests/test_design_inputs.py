"""Known assignment probabilities and clusters (issue 16's design inputs): every form, every bad input.

``validate_propensity`` and ``validate_cluster`` in upliftree._validation are the one boundary where trees,
metrics and learners read how an experiment was randomized.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from upliftree._validation import (
    PROPENSITY_SUM_TOLERANCE,
    Propensities,
    validate_cluster,
    validate_propensity,
)

TWO = ("control", "email")
THREE = ("control", "email", "sms")
CODES_TWO = np.array([0, 1, 1, 0, 1])
CODES_THREE = np.array([0, 1, 2, 0, 2])


def read(propensity, labels=TWO, codes=CODES_TWO, X=None) -> Propensities:
    return validate_propensity(propensity, labels, codes, len(codes), X)


# -- every form ------------------------------------------------------------------------------------------------

def test_none_passes_through():
    assert read(None) is None


def test_a_number_is_the_probability_of_treatment_with_two_arms():
    known = read(0.2)
    assert known.form == "number" and known.constant
    np.testing.assert_array_equal(known.by_arm, np.tile([0.8, 0.2], (5, 1)))
    np.testing.assert_array_equal(known.received, [0.8, 0.2, 0.2, 0.8, 0.2])


def test_a_dict_gives_every_arm_its_probability():
    known = read({"sms": 0.25, "control": 0.5, "email": 0.25}, THREE, CODES_THREE)
    assert known.form == "dict" and known.constant
    np.testing.assert_array_equal(known.by_arm[0], [0.5, 0.25, 0.25])
    np.testing.assert_array_equal(known.received, [0.5, 0.25, 0.25, 0.5, 0.25])


def test_a_1d_array_is_the_probability_of_the_received_arm():
    known = read(np.array([0.5, 0.2, 0.3, 0.6, 1.0]))
    assert known.form == "received" and not known.constant
    np.testing.assert_array_equal(known.received, [0.5, 0.2, 0.3, 0.6, 1.0])
    # With two arms the other arm's probability follows (0 where the received one was certain).
    np.testing.assert_allclose(known.by_arm, [[0.5, 0.5], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.0, 1.0]])


def test_a_1d_array_with_more_arms_gives_only_the_received_probability():
    known = read([0.5, 0.25, 0.25, 0.5, 0.3], THREE, CODES_THREE)
    assert known.by_arm is None and not known.constant
    np.testing.assert_array_equal(known.received, [0.5, 0.25, 0.25, 0.5, 0.3])
    with pytest.raises(ValueError, match="the R-learner needs the probability of every arm"):
        known.require_by_arm("the R-learner")


def test_an_n_by_1_column_is_the_1d_form():
    np.testing.assert_array_equal(read(np.full((5, 1), 0.4)).received, np.full(5, 0.4))


def test_a_2d_array_gives_every_arm_per_row_in_treatments_order():
    by_arm = np.array([[0.5, 0.5], [0.8, 0.2], [0.8, 0.2], [0.5, 0.5], [0.1, 0.9]])
    known = read(by_arm)
    assert known.form == "by_arm"
    np.testing.assert_array_equal(known.by_arm, by_arm)
    np.testing.assert_array_equal(known.received, [0.5, 0.2, 0.2, 0.5, 0.9])


def test_a_column_name_reads_the_1d_form_from_the_frame():
    X = pd.DataFrame({"age": [30, 40, 50, 60, 70], "p": [0.5, 0.2, 0.2, 0.5, 0.3]})
    known = read("p", X=X)
    assert known.form == "received"
    np.testing.assert_array_equal(known.received, X["p"].to_numpy())


def test_an_aligned_series_is_read_and_a_misaligned_one_refused():
    X = pd.DataFrame({"age": range(5)}, index=[10, 11, 12, 13, 14])
    values = pd.Series([0.5, 0.2, 0.2, 0.5, 0.3], index=X.index)
    np.testing.assert_array_equal(read(values, X=X).received, values.to_numpy())
    with pytest.raises(ValueError, match="propensity is a Series whose index differs from X's index"):
        read(values.reset_index(drop=True), X=X)


def test_an_object_array_of_numbers_is_read_as_numbers():
    np.testing.assert_array_equal(read(np.array([0.5, 0.2, 0.2, 0.5, 1], dtype=object)).received,
                                  [0.5, 0.2, 0.2, 0.5, 1.0])


@given(st.integers(2, 4), st.integers(1, 30), st.data())
def test_every_form_of_the_same_design_reads_the_same(n_arms, n_rows, data):
    """A number, a dict, a 2-D array and the received probabilities of one constant design agree."""
    labels = tuple(range(n_arms))
    codes = data.draw(arrays(np.int64, n_rows, elements=st.integers(0, n_arms - 1)))
    weights = np.array(data.draw(st.lists(st.integers(1, 9), min_size=n_arms, max_size=n_arms)), dtype=float)
    shares = weights / weights.sum()
    forms = [{label: float(share) for label, share in zip(labels, shares, strict=True)},
             np.tile(shares, (n_rows, 1))]
    if n_arms == 2:
        forms.append(float(shares[1]))
    expected = shares[codes]
    for form in forms:
        known = validate_propensity(form, labels, codes, n_rows)
        np.testing.assert_allclose(known.received, expected, rtol=0, atol=1e-15)
        np.testing.assert_allclose(known.by_arm, np.tile(shares, (n_rows, 1)), rtol=0, atol=1e-15)
    received = validate_propensity(expected, labels, codes, n_rows)
    np.testing.assert_array_equal(received.received, expected)
    if n_arms == 2:
        np.testing.assert_allclose(received.by_arm, np.tile(shares, (n_rows, 1)), rtol=0, atol=1e-15)
    else:
        assert received.by_arm is None


# -- bad input: clear errors naming the argument, nothing renormalized ------------------------------------------

@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0, -0.2, 1.5, float("nan"), float("inf")])
def test_a_number_outside_0_1_is_refused(value):
    with pytest.raises(ValueError, match=r"propensity=.* must be in \(0, 1\)"):
        read(value)


def test_a_number_with_more_than_two_arms_is_refused():
    with pytest.raises(ValueError, match="a number is the probability of treatment in a two-arm experiment"):
        read(0.3, THREE, CODES_THREE)


def test_a_bool_is_refused():
    with pytest.raises(TypeError, match="got a bool"):
        read(True)


@pytest.mark.parametrize(("propensity", "message"), [
    ({"control": 0.5}, r"no probability for arm\(s\) \['email'\]"),
    ({"control": 0.5, "email": 0.25, "sms": 0.25}, "'sms' is not an arm"),
    ({"control": 0.5, 1: 0.5}, "1 is not an arm"),
    ({"control": 0.5, "email": "0.5"}, r"propensity\['email'\] must be a number"),
    ({"control": 0.5, "email": None}, r"propensity\['email'\] must be a number"),
    ({"control": 1.0, "email": 0.0}, r"outside \(0, 1\]"),
    ({"control": 0.5, "email": 0.49}, "must sum to 1"),
    ({"control": 0.6, "email": 0.6}, "must sum to 1"),
])
def test_bad_dicts_are_refused(propensity, message):
    with pytest.raises((ValueError, TypeError), match=message):
        read(propensity)


def test_text_labels_never_match_numbers():
    with pytest.raises(ValueError, match="'1' is not an arm"):
        read({0: 0.5, "1": 0.5}, (0, 1), CODES_TWO)


def test_sums_within_the_tolerance_are_accepted_and_not_renormalized():
    slack = PROPENSITY_SUM_TOLERANCE / 2
    known = read({"control": 0.5 - slack, "email": 0.5})
    assert known.by_arm[0, 0] == 0.5 - slack
    with pytest.raises(ValueError, match="must sum to 1"):
        read({"control": 0.5 - 2 * PROPENSITY_SUM_TOLERANCE, "email": 0.5})


@pytest.mark.parametrize(("values", "error", "message"), [
    ([0.5, 0.0, 0.2, 0.5, 0.3], ValueError, r"1 value\(s\) outside \(0, 1\]"),
    ([0.5, 1.2, 0.2, 0.5, 0.3], ValueError, r"outside \(0, 1\]"),
    ([0.5, -0.1, 0.2, 0.5, 0.3], ValueError, r"outside \(0, 1\]"),
    ([0.5, np.nan, 0.2, 0.5, 0.3], ValueError, r"1 missing \(NaN\) value"),
    ([0.5, None, 0.2, 0.5, 0.3], ValueError, r"missing \(NaN\)"),
    (["0.5", "0.2", "0.2", "0.5", "0.3"], TypeError, "must hold numbers"),
    (np.array(["a"] * 5, dtype=object), TypeError, "propensity is an object array holding str"),
    ([True, False, True, True, True], TypeError, "must hold numbers"),
    ([0.5, 0.2, 0.2], ValueError, "propensity has 3 rows but X has 5"),
])
def test_bad_1d_arrays_are_refused(values, error, message):
    with pytest.raises(error, match=message):
        read(np.asarray(values) if not isinstance(values, np.ndarray) else values)


@pytest.mark.parametrize(("values", "message"), [
    (np.full((5, 3), 1 / 3), r"shape \(5, 3\); a 2-D propensity is \(n_rows, n_arms\) = \(5, 2\)"),
    (np.full((4, 2), 0.5), r"shape \(4, 2\)"),
    (np.tile([0.6, 0.6], (5, 1)), r"must sum to 1 .*5 row\(s\) do not"),
    (np.array([[0.5, 0.5]] * 4 + [[0.5, 0.4]]), r"1 row\(s\) do not, e.g. row 4 sums to 0.9"),
    (np.array([[0.5, 0.5]] * 4 + [[1.0, 0.0]]), r"outside \(0, 1\]"),
    (np.array([[0.5, 0.5]] * 4 + [[np.nan, 0.5]]), r"missing \(NaN\)"),
])
def test_bad_2d_arrays_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        read(values)


def test_a_higher_dimensional_array_is_refused():
    with pytest.raises(ValueError, match="propensity has shape"):
        read(np.full((5, 2, 1), 0.5))


def test_bad_columns_are_refused():
    X = pd.DataFrame({"p": [0.5, 0.2, 0.2, 0.5, 0.3], "text": list("abcde"), "gap": [0.5, np.nan, 0.2, 0.5, 0.3]})
    with pytest.raises(TypeError, match="names a column, so X must be a pandas DataFrame"):
        read("p", X=X.to_numpy())
    with pytest.raises(ValueError, match="propensity='q' is not a column of X"):
        read("q", X=X)
    with pytest.raises(TypeError, match="propensity column 'text' is an object array holding str"):
        read("text", X=X)
    with pytest.raises(ValueError, match=r"propensity column 'gap' holds 1 missing \(NaN\)"):
        read("gap", X=X)
    twice = pd.concat([X[["p"]], X[["p"]]], axis=1)
    with pytest.raises(ValueError, match="names several columns of X"):
        read("p", X=twice)


# -- clusters -------------------------------------------------------------------------------------------------

def test_cluster_ids_become_codes_of_the_sorted_ids():
    np.testing.assert_array_equal(validate_cluster(["b", "a", "c", "b"], 4), [1, 0, 2, 1])
    np.testing.assert_array_equal(validate_cluster(np.array([30, 10, 20, 10]), 4), [2, 0, 1, 0])
    assert validate_cluster(None, 4) is None


def test_cluster_ids_of_mixed_types_get_codes():
    codes = validate_cluster(np.array(["b", 1, "a", 1], dtype=object), 4)
    assert codes[1] == codes[3] and len(set(codes)) == 3


@given(arrays(np.int64, st.integers(1, 40), elements=st.integers(-5, 5)), st.randoms(use_true_random=False))
def test_cluster_codes_do_not_depend_on_the_row_order(ids, random):
    order = np.array(random.sample(range(len(ids)), len(ids)))
    codes = validate_cluster(ids, len(ids))
    np.testing.assert_array_equal(validate_cluster(ids[order], len(ids)), codes[order])
    assert set(codes) == set(range(len(np.unique(ids))))


def test_a_cluster_column_is_read_from_the_frame():
    X = pd.DataFrame({"store": ["s2", "s1", "s2"], "age": [1, 2, 3]})
    np.testing.assert_array_equal(validate_cluster("store", 3, X), [1, 0, 1])


@pytest.mark.parametrize(("cluster", "error", "message"), [
    (["a", None, "b"], ValueError, r"cluster has 1 missing id\(s\)"),
    ([1.0, np.nan, 2.0], ValueError, "missing id"),
    (["a", "b"], ValueError, "cluster has 2 rows but X has 3"),
    (np.zeros((3, 2)), ValueError, "cluster must be 1-D"),
    ("store", TypeError, "cluster='store' names a column, so X must be a pandas DataFrame"),
])
def test_bad_clusters_are_refused(cluster, error, message):
    with pytest.raises(error, match=message):
        validate_cluster(cluster, 3)


def test_a_missing_cluster_column_is_refused():
    with pytest.raises(ValueError, match="cluster='shop' is not a column of X"):
        validate_cluster("shop", 2, pd.DataFrame({"store": [1, 2]}))


# -- bounded statistics of the design weights ---------------------------------------------------------------------

def _large_design(n_rows: int = 100):
    """Sample weights 1e70 (their own statistics within bounds) and one row of weight 1 and propensity 1e-70."""
    from upliftree._validation import Arms, design_weights

    arm = np.arange(n_rows) % 2
    weight = np.full(n_rows, 1e70)
    propensity = np.full(n_rows, 0.5)
    weight[0], propensity[0] = 1.0, 1e-70
    return design_weights, np.zeros(n_rows), weight, propensity, Arms(arm, TWO)


def test_design_weights_whose_cheap_bound_fails_are_checked_exactly():
    # sum(s) / min(p) * max(s) / min(p) is 1e282, but sum((s / p)**2) is about 4e142: accepted.
    design_weights, y, weight, propensity, arms = _large_design()
    np.testing.assert_array_equal(design_weights(y, weight, propensity, arms, None, 1), weight / propensity)


def test_design_weights_whose_statistics_overflow_are_refused():
    design_weights, y, weight, propensity, arms = _large_design()
    propensity[1] = 1e-79  # sum(w) over 1e149, (1e70 / 1e-79)**2 = 1e298
    with pytest.raises(ValueError, match=r"^sample_weight / propensity too large: sum\(w\*\*2\)"):
        design_weights(y, weight, propensity, arms, None, 1)
