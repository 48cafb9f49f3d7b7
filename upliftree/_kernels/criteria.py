"""Uplift split criteria over per-arm sums (see docs/criteria.md for formulas and sources).

Arm 0 is control, arms 1..k are treatments. Inputs are ``(n_arms, N_STATS)`` arrays of sums as laid out in
:mod:`.histogram`. Scratch arrays are passed in so the split scan allocates nothing per candidate.
"""

import numpy as np
from numba import njit

from .histogram import COUNT, WEIGHT, WEIGHTED_Y, WEIGHTED_Y2

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


@njit(cache=True, nogil=True)
def _clip_probability(p):
    return min(max(p, PROBABILITY_CLIP), 1.0 - PROBABILITY_CLIP)


@njit(cache=True, nogil=True)
def kl_binary(p, q):
    """KL divergence (bits) of Bernoulli(p) from Bernoulli(q), with 0 log 0 = 0 and q clipped."""
    q = _clip_probability(q)
    divergence = 0.0
    if p > 0.0:
        divergence += p * np.log2(p / q)
    if p < 1.0:
        divergence += (1.0 - p) * np.log2((1.0 - p) / (1.0 - q))
    return divergence


@njit(cache=True, nogil=True)
def entropy_binary(p):
    """Entropy (bits) of Bernoulli(p)."""
    entropy = 0.0
    if p > 0.0:
        entropy -= p * np.log2(p)
    if p < 1.0:
        entropy -= (1.0 - p) * np.log2(1.0 - p)
    return entropy


@njit(cache=True, nogil=True)
def gini_binary(p):
    return 1.0 - p * p - (1.0 - p) * (1.0 - p)


@njit(cache=True, nogil=True)
def squared_euclidean_binary(p, q):
    """Squared Euclidean distance between Bernoulli(p) and Bernoulli(q): sum over both classes."""
    return 2.0 * (p - q) * (p - q)


@njit(cache=True, nogil=True)
def chi_squared_binary(p, q):
    """Chi-squared divergence of Bernoulli(p) from Bernoulli(q), q clipped."""
    q = _clip_probability(q)
    return (p - q) * (p - q) / (q * (1.0 - q))


@njit(cache=True, nogil=True)
def arm_means(sums, target_means, n_reg, out):
    """Per-arm mean outcome shrunk toward ``target_means``: (sum_wy + n_reg * target) / (sum_w + n_reg)."""
    for arm in range(sums.shape[0]):
        denominator = sums[arm, WEIGHT] + n_reg
        if denominator > 0.0:
            out[arm] = (sums[arm, WEIGHTED_Y] + n_reg * target_means[arm]) / denominator
        else:
            out[arm] = target_means[arm]


@njit(cache=True, nogil=True)
def divergence(means, criterion, binary):
    """Divergence of the treatments from control, averaged over treatments (uniform weights)."""
    n_treatments = means.shape[0] - 1
    control = means[0]
    total = 0.0
    for arm in range(1, means.shape[0]):
        if criterion == KL:
            total += kl_binary(means[arm], control)
        elif criterion == CHI:
            total += chi_squared_binary(means[arm], control)
        elif binary:
            total += squared_euclidean_binary(means[arm], control)
        else:
            total += (means[arm] - control) * (means[arm] - control)
    return total / n_treatments


@njit(cache=True, nogil=True)
def _split_share_divergence(share_treated, share_control, criterion):
    if criterion == KL:
        return kl_binary(share_treated, share_control)
    if criterion == CHI:
        return chi_squared_binary(share_treated, share_control)
    return squared_euclidean_binary(share_treated, share_control)


@njit(cache=True, nogil=True)
def normalization(left, node, criterion):
    """Rzepakowski & Jaroszewicz (2012) normalization factor of a binary split.

    KL uses I(A) (entropy based), ED and Chi use J(A) (Gini based); the treated group pools all treatments.
    """
    n_arms = node.shape[0]
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
    if criterion == KL:
        factor = entropy_binary(treated_fraction) * kl_binary(share_treated, share_control)
    else:
        factor = gini_binary(treated_fraction) * _split_share_divergence(share_treated, share_control, criterion)
    for arm in range(n_arms):
        arm_share = left[arm, WEIGHT] / node[arm, WEIGHT]
        impurity = entropy_binary(arm_share) if criterion == KL else gini_binary(arm_share)
        factor += node[arm, WEIGHT] / node_weight * impurity
    return factor + 0.5


@njit(cache=True, nogil=True)
def _pooled_variance(left, right, arm):
    """Pooled within-cell variance of control and ``arm`` over both children (interaction-tree t-test)."""
    residual = 0.0
    weight = 0.0
    for child in (left, right):
        for cell_arm in (0, arm):
            cell_weight = child[cell_arm, WEIGHT]
            if cell_weight > 0.0:
                residual += child[cell_arm, WEIGHTED_Y2] - child[cell_arm, WEIGHTED_Y] ** 2 / cell_weight
            weight += cell_weight
    if weight <= 4.0:
        return VARIANCE_FLOOR
    return max(residual / (weight - 4.0), VARIANCE_FLOOR)


@njit(cache=True, nogil=True)
def raw_split_gain(left, right, node, node_means, node_divergence, criterion, n_reg, binary, left_means,
                   right_means):
    """Score of splitting ``node`` into ``left`` and ``right`` before normalization, and its noise check.

    Returns ``(raw_gain, signal, scale)``: the split counts only if ``signal > NOISE_TOLERANCE * scale``
    (:func:`above_noise`). For the divergences ``signal`` is the raw gain and ``scale`` the largest of the
    terms it sums (the weighted child divergences and the node divergence) and of ``max |m_t - m_0| *
    max |m_a|`` over the node and both children (the rounding of nearly-zero divergences); for ΔΔP and the t-statistic
    ``signal`` is ``Σ_t |Δ_t|``, the children's uplift differences the gain is computed from, and ``scale``
    the largest shrunk child mean they are differences of.

    ΔΔP and the t-statistic are never normalized; the divergences are divided by :func:`normalization` when
    ``normalize=True`` (see :func:`is_normalized`).
    """
    arm_means(left, node_means, n_reg, left_means)
    arm_means(right, node_means, n_reg, right_means)
    if criterion == DDP or criterion == TSTAT:
        raw_gain = 0.0
        signal = 0.0
        scale = 0.0
        for arm in range(node.shape[0]):
            scale = max(scale, abs(left_means[arm]), abs(right_means[arm]))
        for arm in range(1, node.shape[0]):
            difference = (left_means[arm] - left_means[0]) - (right_means[arm] - right_means[0])
            signal += abs(difference)
            if criterion == DDP:
                raw_gain += abs(difference)
            else:
                inverse_weights = (1.0 / left[arm, WEIGHT] + 1.0 / left[0, WEIGHT]
                                   + 1.0 / right[arm, WEIGHT] + 1.0 / right[0, WEIGHT])
                raw_gain += difference * difference / (_pooled_variance(left, right, arm) * inverse_weights)
        return raw_gain, signal, scale
    left_weight = 0.0
    right_weight = 0.0
    for arm in range(node.shape[0]):
        left_weight += left[arm, WEIGHT]
        right_weight += right[arm, WEIGHT]
    total_weight = left_weight + right_weight
    left_term = left_weight / total_weight * divergence(left_means, criterion, binary)
    right_term = right_weight / total_weight * divergence(right_means, criterion, binary)
    raw_gain = left_term + right_term - node_divergence
    # The divergences are quadratic in the uplifts m_t - m_0 near 0, and an uplift is rounded relative to the
    # means it is a difference of: with (nearly) no uplift, rounding is of size max |uplift| * max |mean|.
    largest_mean = 0.0
    largest_uplift = 0.0
    for arm in range(node.shape[0]):
        largest_mean = max(largest_mean, abs(node_means[arm]), abs(left_means[arm]), abs(right_means[arm]))
        if arm > 0:
            largest_uplift = max(largest_uplift, abs(node_means[arm] - node_means[0]),
                                 abs(left_means[arm] - left_means[0]), abs(right_means[arm] - right_means[0]))
    scale = max(abs(left_term), abs(right_term), abs(node_divergence), largest_uplift * largest_mean)
    return raw_gain, raw_gain, scale


@njit(cache=True, nogil=True)
def above_noise(signal, scale):
    """Whether a candidate's gain is more than rounding noise (see :data:`NOISE_TOLERANCE`)."""
    return signal > NOISE_TOLERANCE * scale


@njit(cache=True, nogil=True)
def is_normalized(criterion, normalize):
    """Whether the gain is the raw gain divided by :func:`normalization` (divergence criteria only)."""
    return normalize and criterion != DDP and criterion != TSTAT


@njit(cache=True, nogil=True)
def is_admissible(left, right, min_samples_leaf, min_samples_treatment):
    """Both children keep ``min_samples_leaf`` rows and ``min_samples_treatment`` rows of every arm."""
    left_rows = 0.0
    right_rows = 0.0
    for arm in range(left.shape[0]):
        if left[arm, COUNT] < min_samples_treatment or right[arm, COUNT] < min_samples_treatment:
            return False
        if left[arm, WEIGHT] <= 0.0 or right[arm, WEIGHT] <= 0.0:
            return False
        left_rows += left[arm, COUNT]
        right_rows += right[arm, COUNT]
    return left_rows >= min_samples_leaf and right_rows >= min_samples_leaf
