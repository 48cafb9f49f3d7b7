"""Slow, obvious reference of the split searches specified in ``docs/criteria.md``, for tests only: the uplift
criteria, and the squared error of a per-row target (distillation).

Written from the specification, not from the Numba kernels: every sum is taken afresh over the rows of a
node, every candidate split is an explicit set of bins, and a tree is grown by plain recursion. Nothing is
incremental or fast, on purpose; keep the data small.

Rows are described by bin codes (``codes[feature, row]``, as made by ``upliftree.binning.BinMapper``), an arm
code per row (0 = control), sample weights and outcomes (and, for the squared-error rule, the target).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PROBABILITY_CLIP = 1e-6
VARIANCE_FLOOR = 1e-12
# A candidate counts only if its ``signal`` exceeds NOISE_TOLERANCE times its ``scale`` (docs/criteria.md,
# "Numerical noise").
NOISE_TOLERANCE = 1e-9
# A squared-error reduction counts only above this fraction of the node's sum of w * t^2 (docs/criteria.md,
# "Squared error on a per-row target").
SQUARED_ERROR_TOLERANCE = 1e-10
SQUARED_ERROR = "squared_error"

# Columns of the per-arm sums of a set of rows (the layout of ``TreeArrays.stats``).
COUNT, WEIGHT, SUM_WY, SUM_WY2, SUM_W2 = range(5)

BINARY_CRITERIA = ("kl", "ed", "chi", "ddp")
CONTINUOUS_CRITERIA = ("ed", "ddp", "tstat")


@dataclass(frozen=True)
class Rows:
    """An experiment over binned features."""

    codes: np.ndarray  # (n_features, n_rows) bin codes; ``missing_bin`` for missing values
    arm: np.ndarray  # (n_rows,) 0 = control, 1..k treatments
    weight: np.ndarray
    y: np.ndarray
    n_arms: int
    n_bins_non_missing: np.ndarray  # per feature
    is_categorical: np.ndarray  # per feature
    missing_bin: int
    target: np.ndarray | None = None  # (n_rows, n_columns): the squared-error rule's per-row target


@dataclass(frozen=True)
class Params:
    criterion: str
    binary: bool
    normalize: bool = True
    n_reg: float = 0.0
    min_samples_leaf: int = 1
    min_samples_treatment: int = 0
    max_depth: int = 3


@dataclass(frozen=True)
class Candidate:
    """One admissible candidate split, in the order the specification scans them."""

    feature: int
    left_bins: np.ndarray  # bool (missing_bin + 1,): bins routed left, missing bin and absent categories included
    goes_left: np.ndarray  # bool, one per row of the node: the node's own partition
    gain: float
    raw_gain: float
    signal: float  # what the noise rule compares to ``scale``: the raw gain, or sum |uplift differences|
    scale: float  # size of the terms the raw gain is computed from (see ``split_gain``)
    tolerance: float = NOISE_TOLERANCE

    @property
    def above_noise(self) -> bool:
        """Whether the gain is more than rounding noise: only such candidates are splits."""
        return self.signal > self.tolerance * self.scale


# -- sums and means -------------------------------------------------------------------------------------
def arm_sums(data: Rows, rows: np.ndarray) -> np.ndarray:
    """Per arm: number of rows, sum w, sum w*y, sum w*y^2 and sum w^2 over ``rows``."""
    sums = np.zeros((data.n_arms, 5))
    for arm in range(data.n_arms):
        members = rows[data.arm[rows] == arm]
        w = data.weight[members]
        y = data.y[members]
        sums[arm] = [len(members), w.sum(), (w * y).sum(), (w * y * y).sum(), (w * w).sum()]
    return sums


def arm_means(sums: np.ndarray) -> np.ndarray:
    """Unshrunk weighted mean outcome of every arm (0 for an arm without weight)."""
    return np.array([s[SUM_WY] / s[WEIGHT] if s[WEIGHT] > 0 else 0.0 for s in sums])


def shrunk_means(sums: np.ndarray, parent_means: np.ndarray, n_reg: float) -> np.ndarray:
    """(S_a + n_reg m_a(parent)) / (W_a + n_reg).

    The specification leaves 0/0 (no weight and ``n_reg = 0``, possible only for a category's score) open;
    the parent's mean is used, the limit of a vanishing weight with ``n_reg > 0``.
    """
    means = np.empty(len(sums))
    for arm, s in enumerate(sums):
        denominator = s[WEIGHT] + n_reg
        means[arm] = (s[SUM_WY] + n_reg * parent_means[arm]) / denominator if denominator > 0 else parent_means[arm]
    return means


# -- divergences ----------------------------------------------------------------------------------------
def _clip(q: float) -> float:
    return min(max(q, PROBABILITY_CLIP), 1.0 - PROBABILITY_CLIP)


def kl_divergence(p: float, q: float) -> float:
    """Sum over both outcome classes of p_c log2(p_c / q_c), 0 log 0 = 0, control rate clipped."""
    q = _clip(q)
    total = 0.0
    for p_class, q_class in ((p, q), (1.0 - p, 1.0 - q)):
        if p_class > 0:
            total += p_class * np.log2(p_class / q_class)
    return total


def euclidean_divergence(p: float, q: float) -> float:
    """Sum over both outcome classes of (p_c - q_c)^2."""
    return (p - q) ** 2 + ((1.0 - p) - (1.0 - q)) ** 2


def chi_divergence(p: float, q: float) -> float:
    """Sum over both outcome classes of (p_c - q_c)^2 / q_c, control rate clipped."""
    q = _clip(q)
    return (p - q) ** 2 / q + ((1.0 - p) - (1.0 - q)) ** 2 / (1.0 - q)


BINARY_DIVERGENCES: dict[str, Callable[[float, float], float]] = {
    "kl": kl_divergence, "ed": euclidean_divergence, "chi": chi_divergence,
}


def divergence(means: np.ndarray, criterion: str, binary: bool) -> float:
    """(1/k) sum over treatments of D(m_t : m_0); squared difference of means for a continuous ``ed``."""
    n_treatments = len(means) - 1
    total = 0.0
    for treatment in range(1, len(means)):
        if binary:
            total += BINARY_DIVERGENCES[criterion](means[treatment], means[0])
        else:
            total += (means[treatment] - means[0]) ** 2
    return total / n_treatments


def entropy(p: float) -> float:
    return -sum(share * np.log2(share) for share in (p, 1.0 - p) if share > 0)


def gini(p: float) -> float:
    return 1.0 - p**2 - (1.0 - p) ** 2


def normalization_factor(left: np.ndarray, node: np.ndarray, criterion: str) -> float:
    """Rzepakowski & Jaroszewicz's I (kl) or J (ed, chi) of a split; treatments pooled."""
    arm_weight = node[:, WEIGHT]
    total = arm_weight.sum()
    treated_fraction = arm_weight[1:].sum() / total
    share = left[:, WEIGHT] / arm_weight
    treated_share = left[1:, WEIGHT].sum() / arm_weight[1:].sum()
    impurity = entropy if criterion == "kl" else gini
    between = impurity(treated_fraction) * BINARY_DIVERGENCES[criterion](treated_share, share[0])
    within = sum(arm_weight[arm] / total * impurity(share[arm]) for arm in range(len(node)))
    return between + within + 0.5


# -- gain of one split ----------------------------------------------------------------------------------
def split_gain(left: np.ndarray, right: np.ndarray, node: np.ndarray,
               params: Params) -> tuple[float, float, float, float]:
    """``(gain, raw_gain, signal, scale)`` of sending ``left`` and ``right`` (per-arm sums) to two children of
    ``node``.

    ``scale`` is the size of the terms the raw gain is computed from: a divergence gain is a difference of
    terms that can be huge (a clipped control rate gives chi-squared values near 1e6), so two correct
    implementations agree only to a tolerance relative to ``scale``, not to the gain. The normalization factor
    is >= 1/2, so the normalized gain's rounding error is of the same order. For the divergences it is the
    largest term, or max |uplift| * max |mean| over the node and children if larger (the divergences are
    quadratic in the uplifts, whose rounding is relative to the means); for ddp and tstat the largest child
    mean. ``signal`` is the raw gain, for tstat the sum of |uplift differences| its gain is computed from.
    The split search treats a candidate with ``signal <= NOISE_TOLERANCE * scale`` as having gain 0.
    """
    node_means = arm_means(node)
    left_means = shrunk_means(left, node_means, params.n_reg)
    right_means = shrunk_means(right, node_means, params.n_reg)
    treatments = range(1, len(node))
    differences = [(left_means[t] - left_means[0]) - (right_means[t] - right_means[0]) for t in treatments]
    if params.criterion == "ddp":
        gain = sum(abs(difference) for difference in differences)
        return gain, gain, gain, max(np.abs(left_means).max(), np.abs(right_means).max())
    if params.criterion == "tstat":
        gain = 0.0
        for t, difference in zip(treatments, differences, strict=True):
            cells = [(child, arm) for child in (left, right) for arm in (0, t)]
            residual = sum(child[arm, SUM_WY2] - child[arm, SUM_WY] ** 2 / child[arm, WEIGHT] for child, arm in cells)
            pooled_weight = sum(child[arm, WEIGHT] for child, arm in cells)
            variance = VARIANCE_FLOOR
            if pooled_weight > 4:
                variance = max(residual / (pooled_weight - 4), VARIANCE_FLOOR)
            gain += difference**2 / (variance * sum(1.0 / child[arm, WEIGHT] for child, arm in cells))
        signal = sum(abs(difference) for difference in differences)
        return gain, gain, signal, max(np.abs(left_means).max(), np.abs(right_means).max())
    total = node[:, WEIGHT].sum()
    terms = (left[:, WEIGHT].sum() / total * divergence(left_means, params.criterion, params.binary),
             right[:, WEIGHT].sum() / total * divergence(right_means, params.criterion, params.binary),
             -divergence(node_means, params.criterion, params.binary))
    raw_gain = terms[0] + terms[1] + terms[2]
    all_means = (node_means, left_means, right_means)
    largest_uplift = max(abs(means[t] - means[0]) for means in all_means for t in treatments)
    largest_mean = max(np.abs(means).max() for means in all_means)
    scale = max(max(abs(term) for term in terms), largest_uplift * largest_mean)
    if params.normalize:
        return raw_gain / normalization_factor(left, node, params.criterion), raw_gain, raw_gain, scale
    return raw_gain, raw_gain, raw_gain, scale


def is_admissible(left: np.ndarray, right: np.ndarray, params: Params) -> bool:
    """Each child: >= min_samples_leaf rows, >= min_samples_treatment rows and positive weight in every arm."""
    return all(
        child[:, COUNT].sum() >= params.min_samples_leaf
        and (child[:, COUNT] >= params.min_samples_treatment).all()
        and (child[:, WEIGHT] > 0).all()
        for child in (left, right)
    )


# -- candidates of a node -------------------------------------------------------------------------------
def category_order(data: Rows, rows: np.ndarray, feature: int, n_reg: float) -> list[int]:
    """Categories present in the node, by shrunk uplift summed over treatments, ties by code."""
    node_means = arm_means(arm_sums(data, rows))
    codes = data.codes[feature, rows]
    scores = {}
    for code in np.unique(codes[codes != data.missing_bin]).tolist():
        means = shrunk_means(arm_sums(data, rows[codes == code]), node_means, n_reg)
        score = 0.0
        for treatment in range(1, data.n_arms):
            score += means[treatment] - means[0]
        scores[code] = score
    return sorted(scores, key=lambda code: (scores[code], code))


def feature_partitions(data: Rows, rows: np.ndarray, feature: int, order: list[int]):
    """``(left_bins, goes_left)`` of every candidate split of the node holding ``rows`` on ``feature`` whose
    non-missing bins are scanned in ``order``, in scan order: ``left_bins`` sends the missing bin as the
    candidate does (see :func:`route_unseen` for the final routing), ``goes_left`` is the node's partition."""
    codes = data.codes[feature, rows]
    has_missing = bool((codes == data.missing_bin).any())
    left_sets = []
    for threshold in range(len(order) - 1):  # thresholds between consecutive bins
        left_sets.append((order[: threshold + 1], False))
        if has_missing:
            left_sets.append((order[: threshold + 1], True))
    if has_missing and order:
        left_sets.append((order, False))  # missing versus not missing
    for left_codes, missing_left in left_sets:
        left_bins = np.zeros(data.missing_bin + 1, dtype=bool)
        left_bins[left_codes] = True
        left_bins[data.missing_bin] = missing_left
        yield left_bins, left_bins[codes]


def route_unseen(data: Rows, rows: np.ndarray, feature: int, left_bins: np.ndarray, heavier_left: bool) -> None:
    """Route, in ``left_bins``, what the node's rows do not show: without missing rows, missing values go to the
    heavier child (``heavier_left``: the specification leaves a tie open, it goes left here); categories absent
    from the node follow the missing values."""
    codes = data.codes[feature, rows]
    if not (codes == data.missing_bin).any():
        left_bins[data.missing_bin] = heavier_left
    if data.is_categorical[feature]:
        absent = np.setdiff1d(np.arange(data.n_bins_non_missing[feature]), codes)
        left_bins[absent] = left_bins[data.missing_bin]


def node_candidates(data: Rows, rows: np.ndarray, features, params: Params) -> list[Candidate]:
    """Every admissible candidate split of the node holding ``rows`` over ``features``, in scan order."""
    node = arm_sums(data, rows)
    candidates = []
    for feature in features:
        order = category_order(data, rows, feature, params.n_reg) if data.is_categorical[feature] \
            else list(range(data.n_bins_non_missing[feature]))
        for left_bins, goes_left in feature_partitions(data, rows, feature, order):
            left = arm_sums(data, rows[goes_left])
            right = arm_sums(data, rows[~goes_left])
            if not is_admissible(left, right, params):
                continue
            gain, raw_gain, signal, scale = split_gain(left, right, node, params)
            route_unseen(data, rows, feature, left_bins, left[:, WEIGHT].sum() >= right[:, WEIGHT].sum())
            candidates.append(Candidate(int(feature), left_bins, goes_left, float(gain), float(raw_gain),
                                        float(signal), float(scale)))
    return candidates


def best_split(candidates: list[Candidate], key: Callable[[Candidate], float] = lambda c: c.gain
               ) -> Candidate | None:
    """The first candidate with the largest ``key`` (the gain) among those above noise (a gain within noise
    counts as 0)."""
    best = None
    for candidate in candidates:
        if candidate.above_noise and key(candidate) > (key(best) if best is not None else 0.0):
            best = candidate
    return best


# -- squared error on a per-row target ------------------------------------------------------------------
def _add_up(values) -> float:
    """``values[0] + values[1] + ...`` from 0.0, in order (``sum`` may compensate, ``np.sum`` pairs)."""
    total = 0.0
    for value in values:
        total += float(value)
    return total


def target_sums(data: Rows, rows: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(W, S, Q)`` over ``rows``: sum w, and per target column sum w*t and sum w*t^2."""
    w = data.weight[rows]
    t = data.target[rows]
    return float(w.sum()), (w[:, None] * t).sum(axis=0), (w[:, None] * t * t).sum(axis=0)


def squared_error(data: Rows, rows: np.ndarray) -> float:
    """Sum over target columns of sum w (t - mean t)^2 over ``rows``, the definition (0 without weight)."""
    weight, sums, _ = target_sums(data, rows)
    if weight <= 0:
        return 0.0
    w = data.weight[rows]
    return float(sum((w * (data.target[rows, column] - sums[column] / weight) ** 2).sum()
                     for column in range(data.target.shape[1])))


def target_category_order(data: Rows, rows: np.ndarray, feature: int) -> list[int]:
    """Categories present in the node, by mean target summed over columns ``sum_c S_c / W`` (0 without weight),
    ties by code, NaN last."""
    codes = data.codes[feature, rows]
    scores = {}
    for code in np.unique(codes[codes != data.missing_bin]).tolist():
        weight, sums, _ = target_sums(data, rows[codes == code])
        scores[code] = _add_up(sums) / weight if weight > 0 else 0.0
    return sorted(scores, key=lambda code: (np.isnan(scores[code]), np.nan_to_num(scores[code]), code))


def squared_error_candidates(data: Rows, rows: np.ndarray, features, params: Params) -> list[Candidate]:
    """Every admissible candidate split of the node holding ``rows`` for the squared-error rule, in scan order.

    Admissible: each child keeps ``min_samples_leaf`` rows, and ``max(min_samples_treatment, 1)`` rows and
    positive weight of every arm. ``signal`` is the reduction ``sum_c S_c(L)^2 / W(L) + S_c(R)^2 / W(R) - S_c^2 / W``
    (the drop in :func:`squared_error`), ``scale`` the node's ``sum_c Q_c``, ``gain`` the reduction over ``W``.
    """
    weight, sums, squares = target_sums(data, rows)
    if not weight > 0:
        return []  # no child can have positive weight
    node_score = _add_up(sums * sums) / weight
    min_arm_rows = max(params.min_samples_treatment, 1)
    candidates = []
    for feature in features:
        order = target_category_order(data, rows, feature) if data.is_categorical[feature] \
            else list(range(data.n_bins_non_missing[feature]))
        for left_bins, goes_left in feature_partitions(data, rows, feature, order):
            children = (rows[goes_left], rows[~goes_left])
            if not all(len(child) >= params.min_samples_leaf
                       and (np.bincount(data.arm[child], minlength=data.n_arms) >= min_arm_rows).all()
                       and (np.bincount(data.arm[child], data.weight[child], minlength=data.n_arms) > 0).all()
                       for child in children):
                continue
            (left_weight, left_sums, _), (right_weight, right_sums, _) = (target_sums(data, child)
                                                                          for child in children)
            reduction = (_add_up(left_sums * left_sums) / left_weight + _add_up(right_sums * right_sums) / right_weight
                         - node_score)
            route_unseen(data, rows, feature, left_bins, left_weight >= right_weight)
            candidates.append(Candidate(int(feature), left_bins, goes_left, reduction / weight, reduction / weight,
                                        reduction, _add_up(squares), SQUARED_ERROR_TOLERANCE))
    return candidates


def node_search(data: Rows, rows: np.ndarray, features, params: Params) -> tuple[list[Candidate], Candidate | None]:
    """The candidates of the node holding ``rows`` and the best one, by the uplift criteria or, for
    ``params.criterion == SQUARED_ERROR``, the squared error of ``data.target`` (its largest reduction)."""
    if params.criterion == SQUARED_ERROR:
        candidates = squared_error_candidates(data, rows, features, params)
        return candidates, best_split(candidates, key=lambda c: c.signal)
    candidates = node_candidates(data, rows, features, params)
    return candidates, best_split(candidates)


# -- a whole tree ---------------------------------------------------------------------------------------
@dataclass
class ReferenceTree:
    """Node table in the layout of ``upliftree._tree_arrays.TreeArrays`` (category sets as lists of codes)."""

    children_left: np.ndarray
    children_right: np.ndarray
    parent: np.ndarray
    depth: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    is_categorical: np.ndarray
    left_categories: list[list[int]]
    missing_left: np.ndarray
    gain: np.ndarray
    raw_gain: np.ndarray
    stats: np.ndarray
    value: np.ndarray
    node_rows: list[np.ndarray]


# choose(path, rows, candidates, best) -> the candidate to split on, or None for a leaf. ``path`` is the
# string of "L"/"R" moves from the root. The default takes ``best``.
Chooser = Callable[[str, np.ndarray, list[Candidate], Candidate | None], Candidate | None]


def grow_tree(data: Rows, bin_thresholds: list[np.ndarray], params: Params, choose: Chooser | None = None,
              features=None) -> ReferenceTree:
    """Greedy tree: split each node on its best candidate, depth first, left child first.

    Node ids are given when a node is created (both children of a split at once), which numbers nodes the way
    the compiled grower does. ``bin_thresholds[f]`` are the upper edges of feature ``f``'s bins but the last.
    """
    features = np.arange(data.codes.shape[0]) if features is None else features
    nodes: list[dict] = []

    def add_node(parent: int, depth: int, rows: np.ndarray) -> int:
        nodes.append({"parent": parent, "depth": depth, "rows": rows, "split": None, "children": (-1, -1)})
        return len(nodes) - 1

    def grow(node_id: int, path: str) -> None:
        node = nodes[node_id]
        if node["depth"] >= params.max_depth:
            return
        candidates, chosen = node_search(data, node["rows"], features, params)
        if choose is not None:
            chosen = choose(path, node["rows"], candidates, chosen)
        if chosen is None:
            return
        node["split"] = chosen
        left = add_node(node_id, node["depth"] + 1, node["rows"][chosen.goes_left])
        right = add_node(node_id, node["depth"] + 1, node["rows"][~chosen.goes_left])
        node["children"] = (left, right)
        grow(left, path + "L")
        grow(right, path + "R")

    add_node(-1, 0, np.arange(len(data.arm)))
    grow(0, "")

    root_weight = data.weight.sum()
    n_nodes = len(nodes)
    tree = ReferenceTree(
        children_left=np.array([node["children"][0] for node in nodes]),
        children_right=np.array([node["children"][1] for node in nodes]),
        parent=np.array([node["parent"] for node in nodes]),
        depth=np.array([node["depth"] for node in nodes]),
        feature=np.full(n_nodes, -1), threshold=np.full(n_nodes, np.nan),
        is_categorical=np.zeros(n_nodes, dtype=bool), left_categories=[[] for _ in nodes],
        missing_left=np.zeros(n_nodes, dtype=bool), gain=np.zeros(n_nodes), raw_gain=np.zeros(n_nodes),
        stats=np.array([arm_sums(data, node["rows"]) for node in nodes]),
        value=np.zeros((n_nodes, data.n_arms)), node_rows=[node["rows"] for node in nodes],
    )
    for node_id, node in enumerate(nodes):
        split = node["split"]
        if split is None:
            continue
        feature = split.feature
        tree.feature[node_id] = feature
        tree.gain[node_id] = split.gain
        # Stored raw gain is weighted by the node's share of the root's weight (feature importances).
        tree.raw_gain[node_id] = split.raw_gain * data.weight[node["rows"]].sum() / root_weight
        tree.missing_left[node_id] = split.left_bins[data.missing_bin]
        n_bins = data.n_bins_non_missing[feature]
        if data.is_categorical[feature]:
            tree.is_categorical[node_id] = True
            tree.left_categories[node_id] = np.flatnonzero(split.left_bins[:n_bins]).tolist()
        else:
            last_left_bin = int(np.flatnonzero(split.left_bins[:n_bins]).max())
            thresholds = bin_thresholds[feature]
            tree.threshold[node_id] = thresholds[last_left_bin] if last_left_bin < len(thresholds) else np.inf
    tree.value = node_values(tree.stats, tree.parent)
    return tree


def node_values(stats: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Mean outcome per node and arm; an arm without weight takes its parent's value (the root's: 0)."""
    value = np.zeros(stats.shape[:2])
    for node in range(len(stats)):
        for arm in range(stats.shape[1]):
            if stats[node, arm, WEIGHT] > 0:
                value[node, arm] = stats[node, arm, SUM_WY] / stats[node, arm, WEIGHT]
            elif parent[node] >= 0:
                value[node, arm] = value[parent[node], arm]
    return value


# -- routing raw rows through a fitted node table -------------------------------------------------------
def goes_left(tree, node: int, value: float) -> bool:
    """Direction of one raw (encoded) value at ``node`` of a node table with a ``category_bitset``."""
    if np.isnan(value):
        return bool(tree.missing_left[node])
    if tree.is_categorical[node]:
        code = int(value)
        return bool((int(tree.category_bitset[node, code // 64]) >> (code % 64)) & 1)
    return bool(value <= tree.threshold[node])


def leaf_of_rows(tree, encoded: np.ndarray) -> np.ndarray:
    """Leaf id of every row of ``encoded`` (rows x features), one row at a time."""
    leaves = np.empty(len(encoded), dtype=np.int64)
    for row, values in enumerate(encoded):
        node = 0
        while tree.children_left[node] >= 0:
            node = tree.children_left[node] if goes_left(tree, node, values[tree.feature[node]]) \
                else tree.children_right[node]
        leaves[row] = node
    return leaves


def routed_node_stats(tree, encoded: np.ndarray, data: Rows) -> np.ndarray:
    """Per node and arm sums (count, w, w*y, w*y^2, w^2) of the rows whose path passes through the node."""
    n_nodes = len(tree.children_left)
    stats = np.zeros((n_nodes, data.n_arms, 5))
    leaves = leaf_of_rows(tree, encoded)
    for node in range(n_nodes):
        members = []
        for row, leaf in enumerate(leaves):
            ancestor = leaf
            while ancestor >= 0 and ancestor != node:
                ancestor = tree.parent[ancestor]
            if ancestor == node:
                members.append(row)
        stats[node] = arm_sums(data, np.array(members, dtype=np.int64))
    return stats
