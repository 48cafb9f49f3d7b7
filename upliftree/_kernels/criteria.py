"""Uplift split criteria over per-arm sums (see docs/criteria.md for formulas and sources).

Arm 0 is control, arms 1..k are treatments. Inputs are ``(n_arms, N_STATS)`` arrays of sums as laid out in
:mod:`.histogram`. Scratch arrays are passed in so the split scan allocates nothing per candidate.

:func:`split_gain` scores a candidate with a few small helpers: every compiled function costs tens of
milliseconds of compile time on its own and is optimized again inside each of its callers (see
docs/architecture.md, "Kernel rules").
"""

import math

from numba import njit

from .stats_layout import WEIGHT, WEIGHTED_Y, WEIGHTED_Y2

KL = 0
ED = 1
CHI = 2
DDP = 3
TSTAT = 4

# Probabilities are clipped away from 0 and 1 where a divergence would be infinite (as in causalml).
PROBABILITY_CLIP = 1e-6
# Floor for the pooled variance of the t-statistic criterion, so constant outcomes give finite values.
VARIANCE_FLOOR = 1e-12
# A candidate split counts only if its gain exceeds this fraction of the size of the terms it is computed from
# (see :func:`raw_split_gain` and docs/criteria.md, "Numerical noise"). A float64 sum of k terms is exact to
# about k * 2.2e-16 of its largest term; a gain is a sum of a few terms computed from means that are
# themselves rounded sums, so rounding leaves a gain whose exact value is 0 at about 1e-15 of the terms
# (and, for the worst-case bound of sequential sums over about a million rows, still below 1e-9). Any
# gain above the tolerance reflects a difference in the data, not rounding.
NOISE_TOLERANCE = 1e-9


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, no_cpython_wrapper=True, _nrt=False)
def arm_divergence(p, q, criterion, binary):
    """Divergence of a treatment's mean ``p`` from control's ``q``.

    KL (bits, 0 log 0 = 0) and chi-squared treat them as Bernoulli rates, with ``q`` clipped; otherwise (ED,
    and the unused node divergence of ΔΔP and the t-statistic) the squared Euclidean distance of the two
    Bernoulli distributions, 2 (p - q)^2, for a binary outcome and (p - q)^2 for a continuous one.
    """
    if criterion == KL or criterion == CHI:
        # ``min(max(q, CLIP), 1 - CLIP)`` as numba's builtins compute it, written out (see the module docstring).
        q = PROBABILITY_CLIP if PROBABILITY_CLIP > q else q
        q = 1.0 - PROBABILITY_CLIP if 1.0 - PROBABILITY_CLIP < q else q
    if criterion == KL:
        divergence = 0.0
        if p > 0.0:
            divergence += p * math.log2(p / q)
        if p < 1.0:
            divergence += (1.0 - p) * math.log2((1.0 - p) / (1.0 - q))
        return divergence
    if criterion == CHI:
        return (p - q) * (p - q) / (q * (1.0 - q))
    if binary:
        return 2.0 * (p - q) * (p - q)
    return (p - q) * (p - q)


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, no_cpython_wrapper=True, _nrt=False)
def bernoulli_impurity(p, criterion):
    """Entropy (bits) of Bernoulli(p) for KL, its Gini impurity for the other criteria."""
    if criterion == KL:
        entropy = 0.0
        if p > 0.0:
            entropy -= p * math.log2(p)
        if p < 1.0:
            entropy -= (1.0 - p) * math.log2(1.0 - p)
        return entropy
    return 1.0 - p * p - (1.0 - p) * (1.0 - p)


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, no_cpython_wrapper=True, _nrt=False)
def arm_means(sums, target_means, n_reg, out):
    """Per-arm mean outcome shrunk toward ``target_means``: (sum_wy + n_reg * target) / (sum_w + n_reg)."""
    for arm in range(sums.shape[0]):
        denominator = sums[arm, WEIGHT] + n_reg
        if denominator > 0.0:
            out[arm] = (sums[arm, WEIGHTED_Y] + n_reg * target_means[arm]) / denominator
        else:
            out[arm] = target_means[arm]


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, no_cpython_wrapper=True, _nrt=False)
def split_gain(left, right, node, node_means, node_divergence, criterion, normalized, n_reg, binary, best_gain,
               left_means, right_means):
    """Gain of splitting ``node`` into ``left`` and ``right`` (an admissible candidate: both children keep
    ``min_samples_leaf`` rows, and ``min_samples_treatment`` rows and some weight in every arm), and the gain
    before normalization.

    Returns ``(gain, raw_gain)``, both 0 when the candidate is not a split: the gain is within rounding noise
    (see below), or, ``normalized``, it cannot beat ``best_gain``. ``left_means`` and ``right_means`` are
    scratch arrays (the children's shrunk arm means).

    Noise: the split counts only if ``signal > NOISE_TOLERANCE * scale``. For the divergences ``signal`` is
    the raw gain and ``scale`` the largest of the terms it sums (the weighted child divergences and the node
    divergence) and of ``max |m_t - m_0| * max |m_a|`` over the node and both children (the rounding of
    nearly-zero divergences); for ΔΔP and the t-statistic ``signal`` is ``Σ_t |Δ_t|``, the children's uplift
    differences the gain is computed from, and ``scale`` the largest shrunk child mean they are differences
    of. ΔΔP and the t-statistic are never normalized; the divergences are divided by the Rzepakowski &
    Jaroszewicz normalization factor when ``normalized``.

    One function for the whole score (rather than one per step): each compiled function costs compile time
    of its own and again inside every caller.
    """
    n_arms = node.shape[0]
    arm_means(left, node_means, n_reg, left_means)
    arm_means(right, node_means, n_reg, right_means)
    if criterion == DDP or criterion == TSTAT:
        raw_gain = 0.0
        signal = 0.0
        scale = 0.0
        for arm in range(n_arms):
            left_size = abs(left_means[arm])
            scale = left_size if left_size > scale else scale
            right_size = abs(right_means[arm])
            scale = right_size if right_size > scale else scale
        for arm in range(1, n_arms):
            difference = (left_means[arm] - left_means[0]) - (right_means[arm] - right_means[0])
            signal += abs(difference)
            if criterion == DDP:
                raw_gain += abs(difference)
                continue
            # Pooled within-cell variance of control and ``arm`` over both children (interaction-tree t-test).
            residual = 0.0
            weight = 0.0
            for child in (left, right):
                for cell_arm in (0, arm):
                    cell_weight = child[cell_arm, WEIGHT]
                    if cell_weight > 0.0:
                        residual += (child[cell_arm, WEIGHTED_Y2]
                                     - child[cell_arm, WEIGHTED_Y] * child[cell_arm, WEIGHTED_Y] / cell_weight)
                    weight += cell_weight
            variance = VARIANCE_FLOOR
            if weight > 4.0:
                pooled = residual / (weight - 4.0)
                variance = VARIANCE_FLOOR if VARIANCE_FLOOR > pooled else pooled
            inverse_weights = (1.0 / left[arm, WEIGHT] + 1.0 / left[0, WEIGHT]
                               + 1.0 / right[arm, WEIGHT] + 1.0 / right[0, WEIGHT])
            raw_gain += difference * difference / (variance * inverse_weights)
        if not signal > NOISE_TOLERANCE * scale:
            return 0.0, 0.0
        return raw_gain, raw_gain

    left_weight = 0.0
    right_weight = 0.0
    left_divergence = 0.0
    right_divergence = 0.0
    for arm in range(n_arms):
        left_weight += left[arm, WEIGHT]
        right_weight += right[arm, WEIGHT]
        if arm > 0:
            left_divergence += arm_divergence(left_means[arm], left_means[0], criterion, binary)
            right_divergence += arm_divergence(right_means[arm], right_means[0], criterion, binary)
    # Divergences of several treatments are averaged over them (uniform weights).
    n_treatments = n_arms - 1
    total_weight = left_weight + right_weight
    left_term = left_weight / total_weight * (left_divergence / n_treatments)
    right_term = right_weight / total_weight * (right_divergence / n_treatments)
    raw_gain = left_term + right_term - node_divergence
    # The divergences are quadratic in the uplifts m_t - m_0 near 0, and an uplift is rounded relative to the
    # means it is a difference of: with (nearly) no uplift, rounding is of size max |uplift| * max |mean|.
    # Maxima are ``m = v if v > m else m``, exactly Python's ``max(m, v)`` (see the module docstring).
    largest_mean = 0.0
    largest_uplift = 0.0
    for arm in range(n_arms):
        node_size = abs(node_means[arm])
        largest_mean = node_size if node_size > largest_mean else largest_mean
        left_size = abs(left_means[arm])
        largest_mean = left_size if left_size > largest_mean else largest_mean
        right_size = abs(right_means[arm])
        largest_mean = right_size if right_size > largest_mean else largest_mean
        if arm > 0:
            node_size = abs(node_means[arm] - node_means[0])
            largest_uplift = node_size if node_size > largest_uplift else largest_uplift
            left_size = abs(left_means[arm] - left_means[0])
            largest_uplift = left_size if left_size > largest_uplift else largest_uplift
            right_size = abs(right_means[arm] - right_means[0])
            largest_uplift = right_size if right_size > largest_uplift else largest_uplift
    scale = abs(left_term)
    right_size = abs(right_term)
    scale = right_size if right_size > scale else scale
    node_size = abs(node_divergence)
    scale = node_size if node_size > scale else scale
    mean_scale = largest_uplift * largest_mean
    scale = mean_scale if mean_scale > scale else scale
    if not raw_gain > NOISE_TOLERANCE * scale:
        return 0.0, 0.0
    if not normalized:
        return raw_gain, raw_gain
    # The normalization factor is 0.5 plus nonnegative terms, so gain <= 2 * raw_gain: a candidate below half
    # the best gain cannot win, and its logarithms are skipped (the margin covers rounding in the factor).
    if 2.01 * raw_gain <= best_gain:
        return 0.0, 0.0
    # Normalization factor: KL uses I(A) (entropy based), ED and Chi use J(A) (Gini based); the treated group
    # pools all treatments.
    node_weight = 0.0
    treated_weight = 0.0
    treated_left = 0.0
    for arm in range(n_arms):
        node_weight += node[arm, WEIGHT]
        if arm > 0:
            treated_weight += node[arm, WEIGHT]
            treated_left += left[arm, WEIGHT]
    share_treated = treated_left / treated_weight
    share_control = left[0, WEIGHT] / node[0, WEIGHT]
    treated_fraction = treated_weight / node_weight
    if criterion == ED:
        # The treated and control shares of the left child are Bernoulli rates whatever the outcome.
        share_divergence = 2.0 * (share_treated - share_control) * (share_treated - share_control)
    else:
        share_divergence = arm_divergence(share_treated, share_control, criterion, binary)
    factor = bernoulli_impurity(treated_fraction, criterion) * share_divergence
    for arm in range(n_arms):
        arm_share = left[arm, WEIGHT] / node[arm, WEIGHT]
        factor += node[arm, WEIGHT] / node_weight * bernoulli_impurity(arm_share, criterion)
    return raw_gain / (factor + 0.5), raw_gain

