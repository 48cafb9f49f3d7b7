"""The choices of a report (:class:`ReportSettings`) and how its stages show progress."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from .._params import (
    check_alpha,
    check_amount,
    check_bool,
    check_budget,
    check_choice,
    check_explore,
    check_int,
    check_real,
)
from .baseline import DEFAULT_LEARNERS, check_learners

__all__ = ["Progress", "ReportSettings", "no_progress"]


@dataclass(frozen=True)
class ReportSettings:
    """How the report splits, fits, evaluates and decides.

    Parameters
    ----------
    criterion : str or None
        Split criterion of the tree and forest; None: searched for the tree (see ``search_seconds``), the
        forest's default (``"kl"`` binary, ``"tstat"`` continuous) for the forest.
    max_depth : int
        Depth of the honest tree (the search also tries one less).
    min_samples_leaf : int or None
        Rows per leaf of the tree (the forest's: a quarter of it, at least 50); None: searched for the tree
        among ``"auto"`` (the estimators' rule, docs/model_selection.md), 0.5% and 2% of the training rows,
        and ``"auto"`` for the forest.
    search_seconds : float or None
        Time budget of the cross-validated search (``upliftree.model_selection.UpliftSearchCV``, 3 folds,
        held-out Qini) over the tree settings left None; the report shows the candidates tried. None: no
        search, the tree as configured.
    honest_fraction : float
        Share of the training rows that estimates the tree's segments (the rest chooses the splits).
    n_estimators, forest_max_depth : int
        Size of the forest.
    forest_max_samples : float or None
        Share of the training rows each forest tree draws (None: as many as there are, with replacement);
        smaller is faster.
    forest_bands : bool
        Grow the forest for intervals (honest trees in pairs sharing half of the training rows, each drawing at
        most half of the rows without replacement; ``docs/forest.md``) and show, in the decile table, the
        interval of each decile's mean predicted uplift (``predict_group_interval``). Such a forest ranked
        about as well as the default one (``docs/forest.md``); off by default, the observed-uplift interval of
        each decile being the claim about its true uplift. Needs an even ``n_estimators`` of at least 4.
    test_size : float
        Share of the rows (stratified by arm and outcome) held out for evaluation.
    time : str or None
        A column of the experiment's features holding each row's time (numbers, or dates): train on the earlier
        rows, evaluate on the later ``test_size`` of them (the cut rule is
        :func:`upliftree.report.split.time_holdout`); the column is then not a feature, and the report shows the
        held-out metrics per period. None: a random split.
    time_periods : int
        Number of periods the held-out rows are split into with ``time`` (fewer when there are fewer times).
    n_boot : int
        Bootstrap resamples of the intervals and curve bands.
    alpha : float
        Intervals have coverage ``1 - alpha``.
    learners : tuple of str
        Meta-learners fitted next to the tree and scored on the same held-out rows, by short name: ``"s"``,
        ``"t"``, ``"x"``, ``"r"``, ``"dr"``, ``"ct"`` (class transformation); ``()`` for none
        (:mod:`upliftree.report.baseline`).
    benefit, cost, budget : float or None
        A policy: value of one unit of outcome, cost of treating one row, and the most the treatments may
        cost in total (None: treat every row with positive net value). No ``benefit``: no policy.
    explore : float
        Share of rows of the eligibility list put in a randomized exploration bucket.
    sql_table, sql_dialect : str
        Table the scoring SQL reads, and its dialect.
    seed : int
        Seeds the split, the models and the bootstrap.
    title, description : str
        Title of the report and an optional paragraph under it (what the experiment was).
    propensity : None or "estimate"
        ``"estimate"``: observational data, whose propensity the report estimates (cross-fitted) and uses as
        the design, featuring the DR tree (:mod:`upliftree.report.overlap`); None: the experiment's own design.
    """

    criterion: str | None = None
    max_depth: int = 4
    min_samples_leaf: int | None = None
    search_seconds: float | None = 30.0
    honest_fraction: float = 0.5
    n_estimators: int = 100
    forest_max_depth: int = 6
    forest_max_samples: float | None = None
    forest_bands: bool = False
    test_size: float = 0.3
    time: str | None = None
    time_periods: int = 4
    n_boot: int = 200
    alpha: float = 0.05
    learners: tuple[str, ...] = DEFAULT_LEARNERS
    benefit: float | None = None
    cost: float = 0.0
    budget: float | None = None
    explore: float = 0.0
    sql_table: str = "customers"
    sql_dialect: str = "ansi"
    seed: int = 0
    title: str = "Uplift report"
    description: str = ""
    propensity: str | None = None

    def check(self) -> None:
        check_int(self.max_depth, "max_depth", 0)
        if self.min_samples_leaf is not None:
            check_int(self.min_samples_leaf, "min_samples_leaf", 1)
        if self.search_seconds is not None:
            check_real(self.search_seconds, "search_seconds", 0.0, open_low=True)
        check_int(self.n_estimators, "n_estimators", 1)
        check_int(self.forest_max_depth, "forest_max_depth", 0)
        check_bool(self.forest_bands, "forest_bands")
        if self.forest_bands and (self.n_estimators % 2 or self.n_estimators < 4):
            raise ValueError(f"forest_bands grows the forest's trees in pairs: n_estimators must be even and at "
                             f"least 4, got {self.n_estimators}")
        if self.forest_max_samples is not None:
            check_real(self.forest_max_samples, "forest_max_samples", 0.0, 1.0, open_low=True)
        check_int(self.n_boot, "n_boot", 1)
        check_int(self.seed, "seed", 0)
        check_real(self.test_size, "test_size", 0.0, 0.9, open_low=True)
        check_int(self.time_periods, "time_periods", 1)
        if self.time is not None and (not isinstance(self.time, str) or not self.time):
            raise ValueError(f"time must be the name of a column, got {self.time!r}")
        # A report's intervals are claims at 50% coverage or more.
        check_real(check_alpha(self.alpha), "alpha", 0.0, 0.5, open_low=True)
        check_explore(self.explore)
        check_amount(self.cost, "cost", 0.0)
        check_learners(self.learners)
        if self.propensity is not None:
            check_choice(self.propensity, "propensity", ("estimate",))
        if self.benefit is not None:
            check_amount(self.benefit, "benefit")
        elif self.budget is not None or self.cost:
            raise ValueError("cost and budget describe a policy; give benefit (value of one unit of outcome) too")
        if self.budget is not None:
            check_budget(self.budget)


Progress = Callable[[str], contextlib.AbstractContextManager]


def no_progress(description: str) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()
