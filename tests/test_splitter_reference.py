"""The compiled split search, histograms and grower against the slow reference in ``reference.py``.

Random small experiments (hypothesis): integer, float and categorical features with missing values, 2-4 arms,
binary or continuous outcomes, unit / dyadic / arbitrary sample weights, every criterion and setting. Gains
are compared to 1e-9 (relative, 1e-12 absolute). When several candidates tie for the best gain the kernel
may pick any of them, but its partition must be an admissible candidate whose gain is the best one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import reference as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upliftree._grower import HistogramSource
from upliftree._kernels.histogram import MAX_WEIGHT_LEVELS, gather_node_stats, weighted_histograms
from upliftree._kernels.splitter import find_best_split
from upliftree._tree_arrays import categories_in_bitset
from upliftree._validation import encode_features, infer_schema
from upliftree.binning import BinMapper
from upliftree.tree import CLASSIFIER_CRITERIA, REGRESSOR_CRITERIA, UpliftTreeClassifier, UpliftTreeRegressor

RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-12
SEEDS = st.integers(0, 2**32 - 1)


def close(a: float, b: float, scale: float = 0.0) -> bool:
    """Equal to RELATIVE_TOLERANCE of the larger of a, b and ``scale`` (the size of the terms they sum)."""
    return abs(a - b) <= RELATIVE_TOLERANCE * max(abs(a), abs(b), scale) + ABSOLUTE_TOLERANCE


# -- random experiments ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RandomExperiment:
    X: pd.DataFrame
    treatment: np.ndarray  # arm labels (ints or strings), ``control`` among them
    control: object
    arm: np.ndarray  # 0 = control, 1..k in the estimator's order (labels sort like their arm codes)
    y: np.ndarray
    sample_weight: np.ndarray | None
    n_arms: int
    binary: bool
    max_bins: int

    @property
    def weight(self) -> np.ndarray:
        return np.ones(len(self.y)) if self.sample_weight is None else self.sample_weight


ARM_LABELS = {"int": (0, 1, 2, 3), "str": ("control", "t1", "t2", "t3")}
DYADIC_WEIGHTS = np.array([0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0])


@st.composite
def experiments(draw, min_rows: int = 16, max_rows: int = 80) -> RandomExperiment:
    """A small random experiment; every arm has >= 4 rows and positive total weight."""
    n_rows = draw(st.integers(min_rows, max_rows))
    n_arms = draw(st.integers(2, 4))
    binary = draw(st.booleans())
    kinds = draw(st.lists(st.sampled_from(("int", "float", "categorical")), min_size=1, max_size=4))
    max_bins = draw(st.sampled_from((3, 6, 255)))
    missing_rate = draw(st.sampled_from((0.0, 0.1, 0.4)))
    weights = draw(st.sampled_from(("unit", "dyadic", "float", "float with zeros")))
    labels = ARM_LABELS[draw(st.sampled_from(sorted(ARM_LABELS)))][:n_arms]
    rng = np.random.default_rng(draw(SEEDS))

    columns = {}
    for index, kind in enumerate(kinds):
        if kind == "int":
            values = rng.integers(0, rng.integers(1, 12), n_rows).astype(np.float64)
        elif kind == "float":
            values = np.round(rng.normal(0.0, 3.0, n_rows), int(rng.integers(0, 4)))  # some ties, some not
        else:
            n_categories = int(rng.integers(1, min(6, max_bins) + 1))
            if max_bins == 255 and rng.random() < 0.3:
                n_categories = int(rng.integers(60, 130))  # codes beyond the first 64-bit word of a bitset
            values = rng.integers(0, n_categories, n_rows).astype(np.float64)
        values[rng.random(n_rows) < missing_rate * rng.random()] = np.nan
        if kind == "categorical":
            codes = np.where(np.isnan(values), -1, values).astype(np.int64)
            columns[f"f{index}"] = pd.Categorical.from_codes(codes, [f"c{c}" for c in range(n_categories)])
        else:
            columns[f"f{index}"] = values
    X = pd.DataFrame(columns)

    arm = rng.integers(0, n_arms, n_rows)
    arm[: 4 * n_arms] = np.repeat(np.arange(n_arms), 4)
    rng.shuffle(arm)

    # Outcomes depend on the arm and on the first feature, so that splits have something to find.
    first = X.iloc[:, 0]
    signal = (first.cat.codes.to_numpy() % 2 == 1) if isinstance(first.dtype, pd.CategoricalDtype) \
        else (first.to_numpy() > np.nanmedian(first.to_numpy()) if first.notna().any() else np.zeros(n_rows, bool))
    if binary:
        base = rng.choice([0.0, 0.1, 0.3, 0.5, 0.7, 1.0], n_arms)
        effect = rng.uniform(-0.6, 0.6, n_arms)
        y = (rng.random(n_rows) < np.clip(base[arm] + effect[arm] * signal, 0, 1)).astype(np.float64)
    else:
        effect = rng.integers(-12, 12, n_arms)
        # Quarter-unit outcomes: sums of weights, outcomes and squares are exact in float64.
        y = (rng.integers(-8, 40, n_rows) * (rng.random(n_rows) < 0.7) + effect[arm] * signal) / 4.0

    sample_weight = None
    if weights == "dyadic":
        sample_weight = rng.choice(DYADIC_WEIGHTS, n_rows)
    elif weights.startswith("float"):
        sample_weight = rng.uniform(0.05, 3.0, n_rows)
        if weights == "float with zeros":
            sample_weight[rng.random(n_rows) < 0.3] = 0.0
    if sample_weight is not None:
        for code in range(n_arms):
            sample_weight[np.flatnonzero(arm == code)[0]] = 1.0
    treatment = np.asarray(labels, dtype=object)[arm]
    if labels[0] == 0:
        treatment = treatment.astype(np.int64)
    return RandomExperiment(X, treatment, labels[0], arm, y, sample_weight, n_arms, binary, max_bins)


@st.composite
def split_params(draw, binary: bool) -> ref.Params:
    return ref.Params(
        criterion=draw(st.sampled_from(ref.BINARY_CRITERIA if binary else ref.CONTINUOUS_CRITERIA)),
        binary=binary,
        normalize=draw(st.booleans()),
        n_reg=draw(st.sampled_from((0.0, 0.5, 3.0, 100.0))),
        min_samples_leaf=draw(st.sampled_from((1, 2, 5, 12))),
        min_samples_treatment=draw(st.sampled_from((0, 1, 2, 4))),
        max_depth=draw(st.integers(2, 3)),
    )


def criterion_code(params: ref.Params) -> int:
    return (CLASSIFIER_CRITERIA if params.binary else REGRESSOR_CRITERIA)[params.criterion]


def binned(experiment: RandomExperiment) -> tuple[BinMapper, np.ndarray, ref.Rows]:
    schema = infer_schema(experiment.X)
    encoded = encode_features(experiment.X, schema)
    mapper = BinMapper(experiment.max_bins).fit(encoded, schema)
    codes = mapper.transform(encoded)
    rows = ref.Rows(codes, experiment.arm, experiment.weight, experiment.y, experiment.n_arms,
                    mapper.n_bins_non_missing_, mapper.is_categorical_, mapper.missing_bin_)
    return mapper, encoded, rows


def clearly_above_noise(candidate: ref.Candidate) -> bool:
    """Above the noise threshold by more than the tolerance of the comparison: the kernel must count it."""
    return candidate.signal > (ref.NOISE_TOLERANCE + RELATIVE_TOLERANCE) * candidate.scale + ABSOLUTE_TOLERANCE


def possibly_above_noise(candidate: ref.Candidate) -> bool:
    """Not below the noise threshold by more than the tolerance of the comparison: the kernel may count it."""
    return candidate.signal > (ref.NOISE_TOLERANCE - RELATIVE_TOLERANCE) * candidate.scale - ABSOLUTE_TOLERANCE


def best_gain_among(candidates: list[ref.Candidate]) -> tuple[float, float]:
    """``(gain, scale)`` of the best positive gain among ``candidates``, ``(0, 0)`` if none."""
    best = max(candidates, key=lambda c: c.gain, default=None)
    return (best.gain, best.scale) if best is not None and best.gain > 0 else (0.0, 0.0)


def check_kernel_choice(candidates: list[ref.Candidate], feature: int, gain: float, raw_gain: float,
                        goes_left: np.ndarray | None) -> ref.Candidate | None:
    """The kernel's split (``feature``, its partition of the node's rows) is a best reference candidate.

    Candidates whose gain is within noise (``ref.NOISE_TOLERANCE``) are not splits; one within the comparison's
    tolerance of that threshold may count for either implementation. Returns the first reference candidate
    with the kernel's partition (``None`` when the kernel did not split).
    """
    if feature < 0:
        above = [c for c in candidates if clearly_above_noise(c)]
        assert not above, f"kernel found no split; reference gain {max(c.gain for c in above)} is above noise"
        return None
    same = [c for c in candidates if c.feature == feature and np.array_equal(c.goes_left, goes_left)]
    assert same, f"kernel's split on feature {feature} is not an admissible candidate of the reference"
    chosen = same[0]
    assert possibly_above_noise(chosen), f"kernel took a split whose gain {chosen.gain} is within noise"
    # Its gain is the best one: at least that of every candidate surely above noise (a candidate is at most
    # the best of those it competes with, so with no borderline candidates this is the reference's best).
    best_gain, best_scale = best_gain_among([c for c in candidates if clearly_above_noise(c)])
    assert chosen.gain >= best_gain or close(chosen.gain, best_gain, max(chosen.scale, best_scale)), \
        f"kernel's split gains {chosen.gain}, reference best {best_gain}"
    assert close(gain, chosen.gain, chosen.scale), \
        f"kernel gain {gain} != reference gain {chosen.gain} of the same split"
    assert close(raw_gain, chosen.raw_gain, chosen.scale), \
        f"kernel raw gain {raw_gain} != reference {chosen.raw_gain}"
    return chosen


# -- one node -------------------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_find_best_split_matches_reference(data):
    experiment = data.draw(experiments())
    params = data.draw(split_params(experiment.binary))
    rng = np.random.default_rng(data.draw(SEEDS))
    mapper, _, rows_data = binned(experiment)
    n_rows = len(experiment.y)
    all_rows = np.arange(n_rows)
    # A node: all rows or a subset (so bins and categories can be empty), its histograms built directly or,
    # like the grower does for the larger child, as the parent's minus the sibling's.
    in_node = np.ones(n_rows, bool) if data.draw(st.booleans()) else rng.random(n_rows) < 0.7
    rows = all_rows[in_node]
    source = HistogramSource.of(rows_data.codes, experiment.arm, experiment.weight, experiment.y, experiment.n_arms,
                                mapper.missing_bin_ + 1, experiment.binary)
    build = lambda node_rows: source.build(  # noqa: E731
        node_rows, np.ones(len(node_rows), dtype=np.int32), np.arange(rows_data.codes.shape[0]))
    histogram = build(rows) if data.draw(st.booleans()) else build(all_rows) - build(all_rows[~in_node])
    n_features = rows_data.codes.shape[0]
    features = np.arange(n_features)
    if data.draw(st.booleans()):
        features = np.sort(rng.choice(n_features, size=int(rng.integers(1, n_features + 1)), replace=False))

    feature, gain, raw_gain, left_bins = find_best_split(
        histogram, features, mapper.n_bins_non_missing_, mapper.is_categorical_, mapper.missing_bin_,
        criterion_code(params), params.normalize, params.n_reg, params.binary, params.min_samples_leaf,
        params.min_samples_treatment,
    )
    candidates = ref.node_candidates(rows_data, rows, features, params)
    goes_left = left_bins[rows_data.codes[feature, rows]] if feature >= 0 else None
    chosen = check_kernel_choice(candidates, feature, gain, raw_gain, goes_left)
    if chosen is not None:
        # The whole routing: missing bin (heavier child when the node has no missing rows) and categories
        # absent from the node (they follow missing values).
        np.testing.assert_array_equal(left_bins, chosen.left_bins)


# -- a whole tree ---------------------------------------------------------------------------------------
def node_at(tree, path: str) -> int:
    node = 0
    for move in path:
        node = tree.children_left[node] if move == "L" else tree.children_right[node]
    return node


def split_at(tree, path: str, encoded: np.ndarray, rows: np.ndarray) -> tuple[int, int, np.ndarray | None]:
    """``(node, feature, goes_left)`` of the node at ``path`` of a fitted node table: its split feature (-1 for a
    leaf) and how it routes the node's ``rows`` of ``encoded`` (raw values, one row at a time)."""
    node = node_at(tree, path)
    feature = int(tree.feature[node])
    goes_left = None
    if feature >= 0:
        goes_left = np.array([ref.goes_left(tree, node, value) for value in encoded[rows, feature]])
    return node, feature, goes_left


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_tree_matches_reference_greedy_tree(data):
    experiment = data.draw(experiments(min_rows=24, max_rows=80))
    params = data.draw(split_params(experiment.binary))
    estimator = UpliftTreeClassifier if experiment.binary else UpliftTreeRegressor
    model = estimator(
        criterion=params.criterion, max_depth=params.max_depth, min_samples_leaf=params.min_samples_leaf,
        min_samples_treatment=params.min_samples_treatment, n_reg=params.n_reg, normalize=params.normalize,
        max_bins=experiment.max_bins, control=experiment.control, random_state=0,
    )
    assert model.fit(experiment.X, experiment.treatment, experiment.y, experiment.sample_weight) is model
    # Labels of arm codes 0..k: control first, then the others sorted (ARM_LABELS are in that order).
    assert list(model.treatments_) == sorted(set(experiment.treatment.tolist()), key=str)
    assert model.treatments_[0] == experiment.control
    encoded = model.fitted_state_.inputs.encode(experiment.X)
    codes = model.bin_mapper_.transform(encoded)
    rows_data = ref.Rows(codes, experiment.arm, experiment.weight, experiment.y, experiment.n_arms,
                         model.bin_mapper_.n_bins_non_missing_, model.bin_mapper_.is_categorical_,
                         model.bin_mapper_.missing_bin_)
    tree = model.tree_

    def follow_kernel_on_ties(path, rows, candidates, best):
        node, feature, goes_left = split_at(tree, path, encoded, rows)
        gain, raw_gain = tree.gain[node], tree.raw_gain[node]
        if feature >= 0:  # the stored raw gain is weighted by the node's share of the root's weight
            raw_gain *= experiment.weight.sum() / experiment.weight[rows].sum()
        return check_kernel_choice(candidates, feature, gain, raw_gain, goes_left)

    expected = ref.grow_tree(rows_data, model.bin_mapper_.bin_thresholds_, params, follow_kernel_on_ties)
    assert tree.n_nodes == len(expected.children_left)
    for name in ("children_left", "children_right", "parent", "depth", "feature", "is_categorical",
                 "missing_left", "threshold"):
        np.testing.assert_array_equal(getattr(tree, name), getattr(expected, name), err_msg=name)
    for node in range(tree.n_nodes):
        n_categories = model.bin_mapper_.n_bins_non_missing_[max(tree.feature[node], 0)]
        assert categories_in_bitset(tree.category_bitset[node], n_categories).tolist() == \
            expected.left_categories[node], f"category set of node {node}"
    # Gains of split nodes were checked against the reference while growing it (to a tolerance relative to
    # the size of the terms they sum); leaves have none.
    assert not tree.gain[tree.is_leaf].any() and not tree.raw_gain[tree.is_leaf].any()
    # Node statistics: sums over the rows of each node, whether rows are routed by bins (reference) or by
    # the stored thresholds on raw values (kernel), and the values they imply.
    np.testing.assert_allclose(tree.stats, expected.stats, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tree.stats, ref.routed_node_stats(tree, encoded, rows_data), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tree.value, expected.value, rtol=1e-12, atol=1e-12)
    assert model.n_splits_merged_ == 0
    # Prediction reads the same table.
    leaves = ref.leaf_of_rows(tree, encoded)
    np.testing.assert_array_equal(model.apply(experiment.X), leaves)
    uplift = expected.value[leaves, 1:] - expected.value[leaves, :1]
    np.testing.assert_allclose(model.predict(experiment.X), uplift[:, 0] if experiment.n_arms == 2 else uplift,
                               rtol=1e-12, atol=1e-12)
    # Importances: stored raw gains (node share of the root's weight included) summed per feature, scaled.
    split = ~tree.is_leaf
    importances = np.bincount(tree.feature[split], weights=tree.raw_gain[split], minlength=model.n_features_in_)
    if importances.sum() > 0:
        importances = importances / importances.sum()
    np.testing.assert_allclose(model.feature_importances_, importances, rtol=1e-12, atol=1e-15)


# -- histograms and bins --------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(experiment=experiments(), seed=SEEDS, unit_weights=st.booleans())
def test_histograms_match_add_at(experiment, seed, unit_weights):
    """Histograms of a sample (rows drawn several times count several times), in both kernel modes:
    weighted sums, and class counting when the outcome is 0/1 and the weights have few levels."""
    rng = np.random.default_rng(seed)
    mapper, _, rows_data = binned(experiment)
    n_bins_total = mapper.missing_bin_ + 1
    n_rows = len(experiment.y)
    row_counts = np.where(rng.random(n_rows) < 0.2, 0, rng.integers(1, 4, n_rows)).astype(np.int32)
    rows = np.flatnonzero(row_counts)
    codes, arm, y = rows_data.codes, experiment.arm, experiment.y
    weight = np.ones(n_rows) if unit_weights else experiment.weight
    expected = np.zeros((codes.shape[0], n_bins_total, experiment.n_arms, 5))
    repeated = np.repeat(rows, row_counts[rows])
    for feature in range(codes.shape[0]):
        cells = (codes[feature, repeated], arm[repeated])
        w, outcome = weight[repeated], y[repeated]
        for stat, values in enumerate((np.ones(len(repeated)), w, w * outcome, w * outcome**2, w * w)):
            np.add.at(expected[feature, :, :, stat], cells, values)
    features = np.arange(codes.shape[0])
    counts = row_counts[rows]
    histogram = np.zeros(expected.shape)
    weighted_histograms(histogram, codes, rows, *gather_node_stats(rows, counts, arm, weight, y), features)
    np.testing.assert_allclose(histogram, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(histogram[..., 0], expected[..., 0])
    source = HistogramSource.of(codes, arm, weight, y, experiment.n_arms, n_bins_total, experiment.binary)
    counting = experiment.binary and len(np.unique(weight)) <= MAX_WEIGHT_LEVELS
    assert (len(source.bin_class) > 0) == counting
    built = source.build(rows, counts, features)
    if counting:  # weights summed per level: the same sums in another order
        np.testing.assert_array_equal(built[..., 0], histogram[..., 0])
        np.testing.assert_allclose(built, histogram, rtol=1e-12, atol=1e-12)
        histogram = built
    np.testing.assert_array_equal(built, histogram)
    np.testing.assert_array_equal(source.build(rows, counts, features, parallel=True), histogram)
    # Only the listed features are built.
    some = features[rng.random(len(features)) < 0.5]
    partial = source.build(rows, counts, some)
    np.testing.assert_array_equal(partial[some], histogram[some])
    assert not partial[np.setdiff1d(features, some)].any()
    # Sibling subtraction: a child's histograms are the parent's minus its sibling's.
    goes_left = rng.random(len(rows)) < 0.5
    left = source.build(rows[goes_left], counts[goes_left], features)
    right = source.build(rows[~goes_left], counts[~goes_left], features)
    np.testing.assert_allclose(histogram - left, right, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal((histogram - left)[..., 0], right[..., 0])


@settings(max_examples=60, deadline=None)
@given(experiment=experiments())
def test_bins_agree_with_stored_thresholds(experiment):
    """Training rows in bins 0..b are exactly those with x <= threshold b, so prediction on raw values
    routes training rows like the binned split search did; few distinct values give exact bins."""
    mapper, encoded, rows_data = binned(experiment)
    for feature in range(encoded.shape[1]):
        values, codes = encoded[:, feature], rows_data.codes[feature]
        missing = np.isnan(values)
        assert (codes[missing] == mapper.missing_bin_).all()
        assert (codes[~missing] < mapper.n_bins_non_missing_[feature]).all()
        assert mapper.n_bins_non_missing_[feature] <= experiment.max_bins
        if mapper.is_categorical_[feature]:
            np.testing.assert_array_equal(codes[~missing], values[~missing])
            continue
        thresholds = mapper.bin_thresholds_[feature]
        for bin_code, threshold in enumerate(thresholds):
            np.testing.assert_array_equal(codes[~missing] <= bin_code, values[~missing] <= threshold)
        distinct = np.unique(values[~missing])
        if len(distinct) <= experiment.max_bins:
            np.testing.assert_array_equal(thresholds, distinct[:-1])


# -- the documented tie rule ----------------------------------------------------------------------------
def reference_root_split(model, X: pd.DataFrame, treatment: np.ndarray, y: np.ndarray) -> ref.Candidate | None:
    """The reference's best split of the root of ``model`` (fitted on integer arm labels 0..k, unit weights)."""
    mapper = model.bin_mapper_
    data = ref.Rows(mapper.transform(model.fitted_state_.inputs.encode(X)), treatment, np.ones(len(y)), y,
                    len(model.treatments_), mapper.n_bins_non_missing_, mapper.is_categorical_, mapper.missing_bin_)
    params = ref.Params(model.criterion, True, model.normalize, model.n_reg, model.min_samples_leaf,
                        model.min_samples_treatment)
    return ref.best_split(ref.node_candidates(data, np.arange(len(y)), range(X.shape[1]), params))


def tie_frame(bin_rows: dict) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows from ``{x value: [(arm, n_rows, n_converted), ...]}`` (NaN allowed as x)."""
    x, arm, y = [], [], []
    for value, cells in bin_rows.items():
        for cell_arm, n_rows, n_converted in cells:
            x += [value] * n_rows
            arm += [cell_arm] * n_rows
            y += [1.0] * n_converted + [0.0] * (n_rows - n_converted)
    return pd.DataFrame({"x": x, "copy": x}), np.array(arm), np.array(y)


TIE_SETTINGS = [(criterion, normalize, n_reg) for criterion in ref.BINARY_CRITERIA
                for normalize in (False, True) for n_reg in (0.0, 2.0)]


@pytest.mark.parametrize(("criterion", "normalize", "n_reg"), TIE_SETTINGS)
def test_ties_keep_first_feature_and_first_threshold(criterion, normalize, n_reg):
    # Bins 0 and 3 alike, bins 1 and 2 alike: "x <= 0" and "x <= 2" are mirror images with exactly equal
    # gains (all shares are dyadic), and column "copy" repeats "x". The first feature and threshold win.
    strong, weak = [(0, 8, 2), (1, 8, 6)], [(0, 8, 2), (1, 8, 2)]
    X, treatment, y = tie_frame({0.0: strong, 1.0: weak, 2.0: weak, 3.0: strong})
    model = UpliftTreeClassifier(criterion, max_depth=1, min_samples_leaf=1, min_samples_treatment=1,
                                 n_reg=n_reg, normalize=normalize).fit(X, treatment, y)
    assert (model.tree_.feature[0], model.tree_.threshold[0]) == (0, 0.0)
    best = reference_root_split(model, X, treatment, y)
    assert best.feature == 0 and best.left_bins[:4].tolist() == [True, False, False, False]


@pytest.mark.parametrize(("criterion", "normalize", "n_reg"), TIE_SETTINGS)
def test_ties_keep_missing_right_before_missing_left(criterion, normalize, n_reg):
    # Bins 0 and 1 alike: {0} | {1, missing} and {0, missing} | {1} tie exactly; "missing versus not" is
    # ruled out by min_samples_treatment. The kernel tries "missing right" first and keeps it.
    alike = [(0, 6, 3), (1, 6, 3)]
    X, treatment, y = tie_frame({0.0: alike, 1.0: alike, np.nan: [(0, 4, 0), (1, 4, 4)]})
    model = UpliftTreeClassifier(criterion, max_depth=1, min_samples_leaf=1, min_samples_treatment=5,
                                 n_reg=n_reg, normalize=normalize).fit(X, treatment, y)
    tree = model.tree_
    assert (tree.feature[0], tree.threshold[0], tree.missing_left[0]) == (0, 0.0, False)
    best = reference_root_split(model, X, treatment, y)
    assert best.feature == 0 and best.left_bins[[0, 1, model.bin_mapper_.missing_bin_]].tolist() == [True, False, False]
    assert best.gain > 0 and close(tree.gain[0], best.gain, best.scale)


# -- numerical noise ------------------------------------------------------------------------------------
# Control never converts (its rate is clipped to 1e-6, so kl and chi terms are large) and the treatment's
# rate is 0.3 in every bin: every split's exact gain is 0, but rounding leaves some at about 1e-16 of their
# terms (a chi-squared gain of 1.5e-11, a kl gain of 9e-16).
NO_UPLIFT_DIFFERENCE = [
    {0.0: [(0, 10, 0), (1, 10, 3)], 1.0: [(0, 20, 0), (1, 20, 6)], 2.0: [(0, 30, 0), (1, 30, 9)]},
    {0.0: [(0, 7, 0), (1, 10, 3)], 1.0: [(0, 13, 0), (1, 30, 9)], 2.0: [(0, 11, 0), (1, 70, 21)]},
]
NOISE_SETTINGS = [(criterion, normalize) for criterion in ref.BINARY_CRITERIA for normalize in (False, True)]


@pytest.mark.parametrize(("criterion", "normalize"), NOISE_SETTINGS)
def test_gains_within_noise_are_not_splits(criterion, normalize):
    rounded_positive = 0
    for cells in NO_UPLIFT_DIFFERENCE:
        X, treatment, y = tie_frame(cells)
        model = UpliftTreeClassifier(criterion, max_depth=3, min_samples_leaf=1, min_samples_treatment=1,
                                     n_reg=0.0, normalize=normalize).fit(X, treatment, y)
        assert model.tree_.n_nodes == 1
        mapper = model.bin_mapper_
        data = ref.Rows(mapper.transform(model.fitted_state_.inputs.encode(X)), treatment, np.ones(len(y)), y, 2,
                        mapper.n_bins_non_missing_, mapper.is_categorical_, mapper.missing_bin_)
        candidates = ref.node_candidates(data, np.arange(len(y)), range(2), ref.Params(criterion, True, normalize))
        assert candidates and ref.best_split(candidates) is None
        assert all(c.signal <= 1e-14 * c.scale for c in candidates)  # noise is ~1e-16 of the terms
        rounded_positive += sum(c.raw_gain > 0 for c in candidates)
    if criterion in ("kl", "chi"):
        assert rounded_positive  # the problem: without the noise rule these would have been splits


@pytest.mark.parametrize("criterion", ["ed", "ddp", "tstat"])
def test_constant_outcome_is_not_split(criterion):
    # A continuous outcome equal everywhere, with arbitrary weights: uplifts round to about 1e-17 and gains
    # to about 1e-33 (1e-20 for tstat), all noise.
    rng = np.random.default_rng(0)
    n_rows = 400
    X = pd.DataFrame({"x": rng.integers(0, 8, n_rows).astype(float)})
    treatment = np.tile([0, 1], n_rows // 2)
    model = UpliftTreeRegressor(criterion, max_depth=3, min_samples_leaf=1, min_samples_treatment=1).fit(
        X, treatment, np.full(n_rows, 0.1), rng.uniform(0.1, 3.0, n_rows))
    assert model.tree_.n_nodes == 1


@pytest.mark.parametrize(("criterion", "normalize"), NOISE_SETTINGS)
def test_small_real_gain_is_a_split(criterion, normalize):
    # As above, but the treatment converts 500 of 1000 rows left and 501 of 1000 right: a real gain about
    # 1e-6 of the chi-squared terms (kl 1e-7, ed 1e-6, ddp 2e-3), far above noise. It must be taken.
    X, treatment, y = tie_frame({0.0: [(0, 1000, 0), (1, 1000, 500)], 1.0: [(0, 1000, 0), (1, 1000, 501)]})
    model = UpliftTreeClassifier(criterion, max_depth=1, min_samples_leaf=1, min_samples_treatment=1,
                                 n_reg=0.0, normalize=normalize).fit(X, treatment, y)
    tree = model.tree_
    assert (tree.feature[0], tree.threshold[0]) == (0, 0.0)
    best = reference_root_split(model, X, treatment, y)
    assert best is not None and best.gain > 0 and best.signal < 1e-2 * best.scale
    assert close(tree.gain[0], best.gain, best.scale)
