"""Greedy assignment of arms to rows under capacity, head-count and budget limits (used by the policy)."""

from numba import njit


@njit(cache=True, nogil=True)
def apply_moves(row, from_arm, to_arm, move_cost, assigned, capacity_left, treated_left, budget_left):
    """Apply candidate moves in the given order, each only if it still fits; update ``assigned`` in place.

    Move ``m`` puts row ``row[m]`` from arm ``from_arm[m]`` on arm ``to_arm[m]`` (a treatment, code >= 1) at
    extra cost ``move_cost[m]``. It applies when the row is still on ``from_arm[m]``, the target arm has
    capacity left, a row leaving control finds head-count left, and the extra cost fits the budget left.
    ``capacity_left`` is indexed by arm code (control's entry is never read); limits are floats (inf: none).

    Returns
    -------
    treated_left, budget_left : float
    """
    for move in range(row.shape[0]):
        index = row[move]
        source = from_arm[move]
        target = to_arm[move]
        if assigned[index] != source or capacity_left[target] < 1.0:
            continue
        if source == 0 and treated_left < 1.0:
            continue
        if move_cost[move] > budget_left:
            continue
        assigned[index] = target
        capacity_left[target] -= 1.0
        if source == 0:
            treated_left -= 1.0
        else:
            capacity_left[source] += 1.0
        budget_left -= move_cost[move]
    return treated_left, budget_left
