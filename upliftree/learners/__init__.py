"""Meta-learners of the uplift (conditional average treatment effect) on scikit-learn base models.

``SLearner`` and ``TLearner`` model the outcome; ``XLearner`` imputes effects; ``RLearner``, ``DRLearner`` and
``ClassTransformation`` plug cross-fitted nuisances (outcome means, propensities) into a target whose mean is
the effect. All share ``fit(X, treatment, y, sample_weight=None, *, propensity=None, cluster=None)`` and
``predict(X)`` (uplift per treatment, shaped like the trees'). Formulas, sources and when to use which:
docs/learners.md. scikit-learn is imported on first use.
"""

from ._class_transformation import ClassTransformation
from ._doubly_robust import DRLearner, DRScores, cross_fitted_propensity, doubly_robust_scores
from ._outcome_learners import SLearner, TLearner
from ._propensity import EstimatedPropensity, Overlap
from ._r_learner import RLearner
from ._x_learner import XLearner

__all__ = ["ClassTransformation", "DRLearner", "DRScores", "EstimatedPropensity", "Overlap", "RLearner", "SLearner",
           "TLearner", "XLearner", "cross_fitted_propensity", "doubly_robust_scores"]
