"""Allocation under budgets, capacities and head-counts against exact optima found by brute force / DP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from upliftree.policy.allocation import assign_with_limits, assign_within_budget, best_arms


def exact_budget_optimum(value: np.ndarray, cost: np.ndarray, budget: int) -> float:
    """Multiple-choice knapsack by dynamic programming over integer costs: at most one option per row."""
    best = np.zeros(budget + 1)  # best[b]: largest value with total cost <= b
    for row in range(value.shape[0]):
        updated = best.copy()
        for option in range(value.shape[1]):
            option_cost, option_value = int(cost[row, option]), value[row, option]
            if option_value > 0 and option_cost <= budget:
                with_option = best[:budget + 1 - option_cost] + option_value
                updated[option_cost:] = np.maximum(updated[option_cost:], with_option)
        best = updated
    return float(best[-1])


def exact_limited_optimum(value: np.ndarray, allowed: np.ndarray, capacity: np.ndarray, max_treated: float) -> float:
    """Every assignment of a tiny instance, best feasible total."""
    n_rows, n_treatments = value.shape
    arms = np.array(list(itertools.product(range(n_treatments + 1), repeat=n_rows)))  # (assignments, rows)
    rows = np.arange(n_rows)
    permitted = np.pad(allowed, ((0, 0), (1, 0)), constant_values=True)[rows, arms].all(axis=1)
    counts = np.stack([(arms == arm).sum(axis=1) for arm in range(1, n_treatments + 1)], axis=1)
    feasible = permitted & (counts <= capacity).all(axis=1) & ((arms > 0).sum(axis=1) <= max_treated)
    return float(np.pad(value, ((0, 0), (1, 0)))[rows, arms].sum(axis=1)[feasible].max())


def totals(value: np.ndarray, cost: np.ndarray, arms: np.ndarray) -> tuple[float, float]:
    rows = np.arange(len(arms))
    return (float(np.pad(value, ((0, 0), (1, 0)))[rows, arms].sum()),
            float(np.pad(cost, ((0, 0), (1, 0)))[rows, arms].sum()))


def random_instance(seed: int, n_rows: int, n_treatments: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cost = rng.integers(1, 21, (n_rows, n_treatments)).astype(np.float64)
    value = rng.normal(0.3, 1.0, (n_rows, n_treatments)) * cost
    return value, cost


@pytest.mark.parametrize("n_treatments", [1, 2, 3])
def test_budget_never_exceeded(n_treatments):
    for seed in range(40):
        value, cost = random_instance(seed, 200, n_treatments)
        rng = np.random.default_rng(1000 + seed)
        cost = cost * rng.uniform(0.01, 3.0)  # non-integer costs
        capacity = np.where(rng.random(n_treatments) < 0.5, rng.integers(0, 30, n_treatments), np.inf)
        for budget in (0.0, float(cost.min()) / 2, float(rng.uniform(0, cost.sum() / n_treatments)), 1e9):
            arms = assign_within_budget(value, cost, value > 0, capacity, budget)
            total_value, total_cost = totals(value, cost, arms)
            assert total_cost <= budget * (1 + 1e-12)
            assert (np.bincount(arms, minlength=n_treatments + 1)[1:] <= capacity).all()
            assert total_value >= 0.0 and (value[arms > 0, arms[arms > 0] - 1] > 0).all()


@pytest.mark.parametrize("n_treatments", [1, 2, 3])
@pytest.mark.parametrize("budget_share", [0.2, 0.35, 0.5])
def test_budget_reaches_99_percent_of_exact_knapsack(n_treatments, budget_share):
    # Budgets that buy a few dozen treatments among 150 rows: the greedy loses at most one option's value.
    for seed in range(12):
        value, cost = random_instance(seed, 150, n_treatments)
        budget = int(budget_share * cost.sum() / n_treatments)
        arms = assign_within_budget(value, cost, value > 0, np.full(n_treatments, np.inf), float(budget))
        total_value, total_cost = totals(value, cost, arms)
        assert total_cost <= budget
        assert total_value >= 0.99 * exact_budget_optimum(value, cost, budget)


@pytest.mark.parametrize("n_treatments", [1, 2, 3])
def test_budget_greedy_bound_on_tiny_budgets(n_treatments):
    # docs/policy.md: greedy >= optimum - the largest affordable option's value, and >= half the optimum.
    for seed in range(30):
        value, cost = random_instance(seed, 60, n_treatments)
        budget = int(np.random.default_rng(seed).integers(1, 40))
        arms = assign_within_budget(value, cost, value > 0, np.full(n_treatments, np.inf), float(budget))
        total_value, _ = totals(value, cost, arms)
        optimum = exact_budget_optimum(value, cost, budget)
        largest_affordable = float(np.where((cost <= budget) & (value > 0), value, 0.0).max())
        assert total_value >= optimum - largest_affordable - 1e-9
        assert total_value >= optimum / 2 - 1e-9


def test_budget_prefers_value_per_cost():
    value = np.array([[10.0], [6.0], [6.0]])
    cost = np.array([[10.0], [5.0], [5.0]])
    arms = assign_within_budget(value, cost, value > 0, np.array([np.inf]), 10.0)
    assert arms.tolist() == [0, 1, 1]  # 12 beats 10 for the same spend


def test_budget_upgrades_by_marginal_ratio():
    # Row 0: cheap option 1 (cost 1, value 3) or rich option 2 (cost 4, value 6): marginal ratio of the
    # upgrade is 1; row 1's only option has ratio 1.5. Budget 5: both rows, row 0 on its cheap option.
    value = np.array([[3.0, 6.0], [3.0, -1.0]])
    cost = np.array([[1.0, 4.0], [2.0, 1.0]])
    assert assign_within_budget(value, cost, value > 0, np.full(2, np.inf), 3.0).tolist() == [1, 1]
    assert assign_within_budget(value, cost, value > 0, np.full(2, np.inf), 6.0).tolist() == [2, 1]


@pytest.mark.parametrize("integer_values", [False, True])
def test_capacity_and_head_count_are_exact(integer_values):
    for seed in range(100):
        rng = np.random.default_rng(seed)
        n_treatments = int(rng.integers(1, 4))
        if integer_values:  # ties, as between the rows of one leaf
            value = rng.integers(-1, 4, (7, n_treatments)).astype(np.float64)
        else:
            value = rng.normal(0.5, 1.0, (7, n_treatments))
        allowed = (value > 0) & (rng.random(value.shape) < 0.85)
        capacity = np.where(rng.random(n_treatments) < 0.3, np.inf, rng.integers(0, 4, n_treatments))
        max_treated = np.inf if seed % 2 else float(rng.integers(0, 6))
        arms = assign_with_limits(value, allowed, capacity, max_treated)
        treated = np.flatnonzero(arms)
        assert allowed[treated, arms[treated] - 1].all()
        assert len(treated) <= max_treated
        assert (np.bincount(arms, minlength=n_treatments + 1)[1:] <= capacity).all()
        assert totals(value, value, arms)[0] == pytest.approx(
            exact_limited_optimum(value, allowed, capacity, max_treated), abs=1e-9)


def test_capacity_goes_to_rows_that_lose_most_without_it():
    # Both rows value arm 1 most; only row 1 has no good alternative, so it must get the single place.
    value = np.array([[10.0, 9.0], [9.5, 0.0]])
    arms = assign_with_limits(value, value > 0, np.array([1.0, np.inf]), np.inf)
    assert arms.tolist() == [2, 1]


def test_tied_leaves_fill_capacity_exactly():
    # 500 identical rows (as in one leaf): the capped better arm is filled, the rest take the other arm.
    value = np.tile([2.0, 1.0], (500, 1))
    arms = assign_with_limits(value, value > 0, np.array([100.0, np.inf]), np.inf)
    assert np.bincount(arms, minlength=3).tolist() == [0, 100, 400]


def test_best_arms_includes_doing_nothing():
    value = np.array([[-1.0, -2.0], [0.5, 0.7], [3.0, 1.0]])
    allowed = value > 0
    allowed[2, 0] = False
    assert best_arms(value, allowed).tolist() == [0, 2, 2]
