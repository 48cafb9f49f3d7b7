"""One arm per row from net values: best option, head-count and capacity limits, or a budget.

Every function takes ``value`` and ``allowed``, both ``(n_rows, n_treatments)``: the net value of each
treatment (doing nothing is worth 0) and whether the row may receive it (eligibility, caps, threshold).
They return arm codes: 0 for control, ``j + 1`` for treatment column ``j``. Algorithms: ``docs/policy.md``.
"""

from __future__ import annotations

import numpy as np

from .._kernels.allocation import apply_moves

MAX_PRICE_ROUNDS = 100
MAX_CYCLE_ROUNDS = 10_000


def with_control(matrix: np.ndarray, control: float | bool = 0.0) -> np.ndarray:
    """``(n_rows, n_treatments)`` -> ``(n_rows, n_arms)``: a first column for control, indexed by arm code."""
    return np.pad(matrix, ((0, 0), (1, 0)), constant_values=control)


def of_arm(matrix: np.ndarray, arms: np.ndarray) -> np.ndarray:
    """Each row's entry for its arm code (0 for control)."""
    return with_control(matrix)[np.arange(len(arms)), arms]


def best_arms(value: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Each row's best allowed treatment (the first on ties), or control when none is allowed."""
    masked = np.where(allowed, value, -np.inf)
    best = np.argmax(masked, axis=1)
    return np.where(allowed.any(axis=1), best + 1, 0).astype(np.int64)


def _lowest_clearing_price(surplus: np.ndarray, limit: float) -> float:
    """Lowest price ``p >= 0`` at which at most ``limit`` rows have ``surplus > p``."""
    n_above = int((surplus > 0.0).sum())
    if n_above <= limit:
        return 0.0
    position = len(surplus) - int(limit) - 1  # the (limit + 1)-th largest surplus
    return float(np.partition(surplus, position)[position])


def clearing_prices(value: np.ndarray, allowed: np.ndarray, capacity: np.ndarray,
                    max_treated: float) -> tuple[np.ndarray, float]:
    """Prices per treatment and per treated row that ration the limited arms.

    A row facing the prices takes the option with the largest ``value - price[arm] - treated_price``
    (control: 0). Each round sets every limited arm's price, then the head-count price, to the lowest price
    at which no more rows than its limit strictly prefer it, given the other prices; rounds repeat until no
    price moves (at most ``MAX_PRICE_ROUNDS``). At market-clearing prices each row's preferred option is an
    optimal assignment (linear-programming duality); rows indifferent at a price are settled afterwards.
    """
    masked = np.where(allowed, value, -np.inf)
    prices = np.zeros(value.shape[1])
    treated_price = 0.0
    limited = np.flatnonzero(np.isfinite(capacity))
    for _ in range(MAX_PRICE_ROUNDS):
        previous = (prices.copy(), treated_price)
        for arm in limited:
            others = masked - prices - treated_price
            others[:, arm] = -np.inf
            alternative = np.maximum(others.max(axis=1), 0.0)
            prices[arm] = _lowest_clearing_price(masked[:, arm] - treated_price - alternative, capacity[arm])
        if np.isfinite(max_treated):
            treated_price = _lowest_clearing_price((masked - prices).max(axis=1), max_treated)
        if np.array_equal(prices, previous[0]) and treated_price == previous[1]:
            break
    return prices, treated_price


def _arm_limits(capacity: np.ndarray) -> np.ndarray:
    """Capacity indexed by arm code (control unlimited), as the kernel wants it."""
    return np.concatenate([[np.inf], capacity]).astype(np.float64)


def assign_with_limits(value: np.ndarray, allowed: np.ndarray, capacity: np.ndarray,
                       max_treated: float) -> np.ndarray:
    """The largest total net value with per-treatment ``capacity`` and at most ``max_treated`` treated rows.

    Rows compete through :func:`clearing_prices`; (row, treatment) pairs are then taken greedily in
    decreasing order of price-adjusted value while the limits allow (ties: earlier row, then earlier
    treatment), and :func:`cancel_improving_cycles` makes the result optimal.
    """
    n_rows = value.shape[0]
    prices, treated_price = clearing_prices(value, allowed, capacity, max_treated)
    rows, columns = np.nonzero(allowed)
    adjusted = value[rows, columns] - prices[columns] - treated_price
    order = np.lexsort((columns, rows, -adjusted))
    assigned = np.zeros(n_rows, dtype=np.int64)
    apply_moves(rows[order], np.zeros(len(order), dtype=np.int64), columns[order] + 1, np.zeros(len(order)),
                assigned, _arm_limits(capacity), float(max_treated), np.inf)
    return cancel_improving_cycles(value, allowed, capacity, max_treated, assigned)


def cancel_improving_cycles(value: np.ndarray, allowed: np.ndarray, capacity: np.ndarray, max_treated: float,
                            assigned: np.ndarray) -> np.ndarray:
    """Improve a feasible assignment until no exchange of rows between arms raises the total net value.

    The assignment is a flow (rows -> arms -> head-count -> sink); it is optimal exactly when its residual
    graph has no cycle of positive value. Compressed to arms, an edge ``a -> b`` is worth the best gain
    ``value[i, b] - value[i, a]`` of a row ``i`` now on ``a`` (control is worth 0), plus free edges where an
    arm, the head-count or control has room (``-> sink``) or holds rows (``sink ->``), except that the
    number of treated rows may not fall: a row with an allowed option keeps being treated while the limits
    allow, even when that option's value is negative (a negative ``threshold``). Each round finds a
    positive cycle by Bellman-Ford and applies it as many times as it still gains, moving the next best row
    along each arm-to-arm edge each time (many rows at once when net values tie, as in a tree's leaves). At
    most ``MAX_CYCLE_ROUNDS`` rounds.
    """
    n_rows, n_treatments = value.shape
    n_arms = n_treatments + 1
    head_count, sink = n_arms, n_arms + 1
    treatment_arms = np.arange(1, n_arms)
    arm_value = with_control(np.where(allowed, value, -np.inf))  # control: 0, always allowed
    tolerance = 1e-12 * max(1.0, float(np.abs(value[allowed]).max(initial=0.0)))
    limits = _arm_limits(capacity)
    for _ in range(MAX_CYCLE_ROUNDS):
        counts = np.bincount(assigned, minlength=n_arms)
        n_treated = n_rows - counts[0]
        room = np.zeros((n_arms + 2, n_arms + 2))  # units each free edge can carry
        room[treatment_arms, head_count] = limits[1:] - counts[1:]
        room[head_count, treatment_arms] = counts[1:]
        room[head_count, sink] = max_treated - n_treated  # no edge back: treated rows are never dropped
        room[0, sink] = np.inf
        room[sink, 0] = counts[0]
        edge = np.where(room > 0, 0.0, -np.inf)
        members = [np.flatnonzero(assigned == arm) for arm in range(n_arms)]
        gains = [arm_value[rows] - arm_value[rows, arm][:, None] for arm, rows in enumerate(members)]
        for arm in np.flatnonzero(counts):
            edge[arm, :n_arms] = gains[arm].max(axis=0)
            edge[arm, arm] = -np.inf
        cycle = _positive_cycle(edge, tolerance)
        if cycle is None:
            break
        arm_edges = [(source, target) for source, target in _edges(cycle) if source < n_arms and target < n_arms]
        free_room = min([room[source, target] for source, target in _edges(cycle)
                         if (source, target) not in arm_edges], default=np.inf)
        ranked = []  # per arm-to-arm edge: its source arm's rows, best gain first
        for source, target in arm_edges:
            order = np.argsort(-gains[source][:, target], kind="stable")
            ranked.append((members[source][order], gains[source][order, target], target))
        n_units = int(min(free_room, *(len(rows) for rows, _, _ in ranked)))
        cycle_gain = np.sum([gain[:n_units] for _, gain, _ in ranked], axis=0)
        n_applied = int((cycle_gain > tolerance).sum())  # cycle_gain never increases
        for rows, _, target in ranked:
            assigned[rows[:n_applied]] = target
    return assigned


def _positive_cycle(edge: np.ndarray, tolerance: float) -> list[int] | None:
    """Nodes of a cycle of total weight above ``tolerance`` in a small dense graph, or None (Bellman-Ford)."""
    n_nodes = len(edge)
    distance = np.zeros(n_nodes)
    parent = np.full(n_nodes, -1)
    nodes = np.arange(n_nodes)
    for _ in range(n_nodes):
        through = distance[:, None] + edge
        source = np.argmax(through, axis=0)
        improved = through[source, nodes] > distance + tolerance
        if not improved.any():
            return None
        distance = np.where(improved, through[source, nodes], distance)
        parent = np.where(improved, source, parent)
    node = int(np.flatnonzero(improved)[0])
    for _ in range(n_nodes):  # walk back into the cycle
        node = int(parent[node])
    cycle = [node]
    while (previous := int(parent[cycle[0]])) != node:
        cycle.insert(0, previous)
    weight = sum(edge[source, target] for source, target in _edges(cycle))
    return cycle if weight > tolerance else None


def _edges(cycle: list[int]) -> list[tuple[int, int]]:
    return list(zip(cycle, cycle[1:] + cycle[:1], strict=True))


def hull_increments(value: np.ndarray, cost: np.ndarray, allowed: np.ndarray) -> dict[str, np.ndarray]:
    """Each row's upgrade path along the upper concave hull of its (cost, net value) options.

    From doing nothing at (0, 0), a row steps to the allowed option of larger value and no smaller cost with
    the largest marginal value per marginal cost (zero marginal cost counts as infinite; ties go to the
    cheaper step, then the larger value), and repeats from there. Along a row, ratios never increase.

    Returns
    -------
    dict of arrays, one entry per step
        ``row``, ``from_arm``, ``to_arm`` (arm codes), ``value`` and ``cost`` (marginal), ``step``.
    """
    n_rows, n_treatments = value.shape
    current_arm = np.zeros(n_rows, dtype=np.int64)
    current_value = np.zeros(n_rows)
    current_cost = np.zeros(n_rows)
    from_arm = np.zeros((n_treatments, n_rows), dtype=np.int64)
    to_arm = np.zeros((n_treatments, n_rows), dtype=np.int64)  # 0: the row has no such step
    step_value = np.zeros((n_treatments, n_rows))
    step_cost = np.zeros((n_treatments, n_rows))
    for step in range(n_treatments):
        gain = value - current_value[:, None]
        extra = cost - current_cost[:, None]
        candidate = allowed & (gain > 0.0) & (extra >= 0.0)
        rows = np.flatnonzero(candidate.any(axis=1))
        if len(rows) == 0:
            break
        ratio = np.where(candidate, _ratio(gain, extra), -np.inf)
        best_ratio = candidate & (ratio == ratio.max(axis=1, keepdims=True))
        cheapest = best_ratio & (extra == np.where(best_ratio, extra, np.inf).min(axis=1, keepdims=True))
        column = np.argmax(np.where(cheapest, gain, -np.inf), axis=1)[rows]
        from_arm[step, rows] = current_arm[rows]
        to_arm[step, rows] = column + 1
        step_value[step, rows] = gain[rows, column]
        step_cost[step, rows] = extra[rows, column]
        current_arm[rows] = column + 1
        current_value[rows] = value[rows, column]
        current_cost[rows] = cost[rows, column]
    taken = to_arm > 0
    steps, rows = np.nonzero(taken)
    return {"row": rows, "from_arm": from_arm[taken], "to_arm": to_arm[taken], "value": step_value[taken],
            "cost": step_cost[taken], "step": steps}


def _ratio(gain: np.ndarray, extra: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(extra > 0.0, gain / extra, np.inf)


def assign_within_budget(value: np.ndarray, cost: np.ndarray, allowed: np.ndarray, capacity: np.ndarray,
                         budget: float) -> np.ndarray:
    """Largest total net value found with total cost at most ``budget`` (greedy; see ``docs/policy.md``).

    1. Take the hull increments (:func:`hull_increments`) of all rows in decreasing order of marginal value
       per marginal cost, each one that still fits the budget and capacity (skipping the others).
    2. With what is left, take any remaining upgrade of a row to a better allowed option, again by ratio.
    3. Keep the result unless a single affordable option is worth more on its own (the classic guard that
       makes greedy knapsack at least half the optimum).
    """
    n_rows = value.shape[0]
    allowed = allowed & (cost <= budget)  # never affordable: kept out of the hull (and of the bound below)
    arm_limits = _arm_limits(capacity)
    assigned = np.zeros(n_rows, dtype=np.int64)
    steps = hull_increments(value, cost, allowed)
    order = np.lexsort((steps["step"], steps["row"], -_ratio(steps["value"], steps["cost"])))
    _, budget_left = apply_moves(steps["row"][order], steps["from_arm"][order], steps["to_arm"][order],
                                 steps["cost"][order], assigned, arm_limits, np.inf, float(budget))

    rows, columns = np.nonzero(allowed)
    current = assigned[rows]
    gain = value[rows, columns] - of_arm(value, assigned)[rows]
    extra = cost[rows, columns] - of_arm(cost, assigned)[rows]
    better = gain > 0.0
    rows, columns, current, gain, extra = rows[better], columns[better], current[better], gain[better], extra[better]
    order = np.lexsort((columns, rows, -_ratio(gain, extra)))
    apply_moves(rows[order], current[order], columns[order] + 1, extra[order], assigned, arm_limits, np.inf,
                budget_left)

    affordable = allowed & (capacity >= 1.0)
    if affordable.any():
        single_value = np.where(affordable, value, -np.inf)
        row, column = np.unravel_index(np.argmax(single_value), single_value.shape)
        if single_value[row, column] > of_arm(value, assigned).sum():
            assigned[:] = 0
            assigned[row] = column + 1
    return assigned
