"""Stable assignment of a policy test: a holdout, a personalization group and its exploration bucket.

Every id's place comes from a keyed BLAKE2b hash of the id, so an id lands in the same group, bucket and
exploration arm in every batch, file and row order, on every machine, as long as the salt is the same:

- ``key = blake2b(salt.encode("utf-8"), digest_size=32)``;
- ``digest = blake2b(canonical bytes of the id, digest_size=24, key=key)``; the canonical bytes of an integer
  are its decimal digits in ASCII (``-42`` -> ``b"-42"``), of a string its UTF-8 bytes, so the id ``42`` read
  as a number from one file and as the text ``"42"`` from another is the same id;
- three uniforms in [0, 1): ``u_k = (uint64 big-endian of digest[8k : 8k + 8] >> 11) / 2**53``, k = 0, 1, 2.

A row is in the holdout when ``u_0`` of its cluster (``cluster``, the unit of randomization; else of its id)
is below ``holdout``; a personalization row is in the exploration bucket when ``u_1`` of its id is below
``explore``; a bucket row gets the first arm whose cumulative probability exceeds ``u_2``. So raising
``holdout`` or ``explore`` only moves ids into the holdout or the bucket, never out. See ``docs/policy.md``.
"""

from __future__ import annotations

import hashlib
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from .._params import check_real
from .._validation import as_pandas, label_mask, labels_equal, probabilities_by_arm

HOLDOUT, PERSONALIZATION = "holdout", "personalization"
GROUPS = (HOLDOUT, PERSONALIZATION)
DIGEST_BYTES = 24  # three 64-bit words: group, exploration bucket, exploration arm
PROBABILITY_SUM_TOLERANCE = 1e-6


def hash_uniforms(ids: Any, salt: str, argument: str = "ids") -> np.ndarray:
    """Three uniforms in [0, 1) per id, ``(n, 3)``, from the keyed hash of the module docstring.

    ``ids`` is a 1-D numpy array or Series; each distinct id is hashed once (a few microseconds), then spread back.
    """
    codes, uniques = pd.factorize(_id_values(ids, argument))
    key = hashlib.blake2b(salt.encode("utf-8"), digest_size=32).digest()
    keyed = hashlib.blake2b(digest_size=DIGEST_BYTES, key=key)
    digests = bytearray()
    texts = uniques.astype(str).tolist() if uniques.dtype.kind in "iu" else [
        value if isinstance(value, str) else str(int(value)) for value in uniques.tolist()]
    for text in texts:
        one = keyed.copy()
        one.update(text.encode("utf-8"))
        digests += one.digest()
    words = np.frombuffer(bytes(digests), dtype=">u8").reshape(len(uniques), 3)
    return ((words >> np.uint64(11)).astype(np.float64) * 2.0**-53)[codes]


def _id_values(ids: Any, argument: str) -> np.ndarray:
    """The ids as an integer or object array of integers and strings (nothing else: ``True`` and ``1.0``
    would otherwise pass for the id ``1``)."""
    values = ids.to_numpy() if isinstance(ids, pd.Series) else ids
    missing = pd.isna(values)
    if missing.any():
        raise ValueError(f"{argument} has {int(missing.sum())} missing value(s); every row needs an id")
    if values.dtype.kind in "iu":
        return values
    if values.dtype.kind == "f" or values.dtype.kind not in "OU":
        raise TypeError(f"{argument} must hold integers or strings, got dtype {values.dtype}"
                        + ("; an id column with missing values is read as float: drop or fill them, then convert "
                           "with astype('int64')" if values.dtype.kind == "f" else ""))
    values = values.astype(object)
    for kind in {type(value) for value in values.tolist()}:
        if not (issubclass(kind, str) or (issubclass(kind, Integral) and not issubclass(kind, bool))):
            example = next(value for value in values.tolist() if type(value) is kind)
            raise TypeError(f"{argument} must hold integers or strings, found {example!r} ({kind.__name__})")
    return values


def assign(ids: Any, *, salt: str, holdout: float = 0.1, explore: float = 0.05, cluster: Any = None,
           policy_arm: Any = None, arms: Any = None, probabilities: Any = None,
           business_as_usual: Any = None) -> pd.DataFrame:
    """Assign ids to the groups of a policy test, stably: the same id gets the same place in every batch.

    A share ``holdout`` of the ids (of the clusters, with ``cluster``) stays on business as usual; the others
    form the personalization group, which follows the policy, except a share ``explore`` of it, the
    exploration bucket, whose arm is drawn at random (uniformly over ``arms``, or with ``probabilities``).
    The hash is in the module docstring.

    Parameters
    ----------
    ids : array-like of int or str
        One id per row (customer ids); duplicates get the same place.
    salt : str
        Names the test: the same salt gives the same assignment; use a new one for each test, or the same
        customers are held out every time.
    holdout : float in (0, 1)
        Share of the ids (clusters) in the holdout.
    explore : float in [0, 1)
        Share of the personalization group in the exploration bucket.
    cluster : array-like of int or str, optional
        The unit of randomization (household, store), one per row: a whole cluster is held out or not.
        Bucket and arm are still drawn per id.
    policy_arm : array-like, optional
        The policy's arm for each row (e.g. ``policy_arm`` of :meth:`Policy.eligibility`). With it the result
        has every row's arm and its logged probability.
    arms : sequence
        The arms a bucket row may get (e.g. ``policy.treatments_``); needed with ``policy_arm`` and
        ``explore > 0``. Rows that may receive only some arms: call ``assign`` for each such set of rows with
        its arms (the groups depend only on the ids and the salt).
    probabilities : None, dict or sequence
        Probability of each arm in the bucket (``{arm: p}``, or in the order of ``arms``), each > 0, summing
        to 1; default uniform.
    business_as_usual : label, optional
        The arm the holdout gets, when it is one arm (e.g. the control label).

    Returns
    -------
    DataFrame
        Indexed like ``ids`` (a Series' index, else 0..n-1), so it joins the eligibility list it came from:
        ``id``, ``group`` (``"holdout"`` or ``"personalization"``), ``group_probability`` (probability of the
        row's group), ``exploration`` (in the bucket); with ``policy_arm`` also ``assigned`` (the arm to give:
        the bucket's draw, else the policy's arm; ``business_as_usual`` or missing in the holdout) and
        ``assignment_probability``: the probability of ``assigned`` given the row's group,
        ``(1 - explore) * [assigned == policy arm] + explore * p(assigned)`` in the personalization group
        (as :meth:`Policy.eligibility` logs it), 1 for a ``business_as_usual`` holdout row, else missing.
    """
    if not isinstance(salt, str) or not salt:
        raise ValueError(f"salt must be a non-empty string naming the test, got {salt!r}")
    holdout = check_real(holdout, "holdout", 0.0, 1.0, open_low=True)
    if holdout == 1.0:
        raise ValueError("holdout must be in (0, 1), got 1.0: a test needs a personalization group")
    explore = check_real(explore, "explore", 0.0, 1.0)
    if explore == 1.0:
        raise ValueError("explore must be in [0, 1), got 1.0: the personalization group must follow the policy")
    ids = _one_column(ids, "ids")
    n_rows = len(ids)
    index = ids.index if isinstance(ids, pd.Series) else None
    uniforms = hash_uniforms(ids, salt)
    group_draw = uniforms[:, 0] if cluster is None else hash_uniforms(
        _one_column(cluster, "cluster", n_rows, index), salt, "cluster")[:, 0]
    in_holdout = group_draw < holdout
    exploration = ~in_holdout & (uniforms[:, 1] < explore)
    frame = pd.DataFrame({
        "id": np.asarray(ids),
        "group": np.where(in_holdout, HOLDOUT, PERSONALIZATION).astype(object),
        "group_probability": np.where(in_holdout, holdout, 1.0 - holdout),
        "exploration": exploration,
    }, index=index)
    if policy_arm is None:
        for name, value in (("arms", arms), ("probabilities", probabilities),
                            ("business_as_usual", business_as_usual)):
            if value is not None:
                raise ValueError(f"{name} sets the arms of the rows, so it needs policy_arm=<the policy's arm of "
                                 "every row>")
        return frame
    policy_labels = np.asarray(_one_column(policy_arm, "policy_arm", n_rows, index))
    if arms is None:
        if explore > 0:
            raise ValueError("explore > 0 needs arms=<the arms an exploration row may get>, e.g. "
                             "policy.treatments_")
        arms = list(pd.unique(policy_labels))
    labels, share = _arm_shares(arms, probabilities)
    policy_code = _codes(policy_labels, labels, "policy_arm")
    bucket_code = np.minimum(np.searchsorted(np.cumsum(share), uniforms[:, 2], side="right"), len(labels) - 1)
    code = np.where(exploration, bucket_code, policy_code)
    frame["assigned"] = np.asarray(labels, dtype=object)[code]
    frame["assignment_probability"] = (1.0 - explore) * (code == policy_code) + explore * share[code]
    if business_as_usual is None:
        frame.loc[in_holdout, "assigned"] = None
        frame.loc[in_holdout, "assignment_probability"] = np.nan
    else:
        frame.loc[in_holdout, "assigned"] = business_as_usual
        frame.loc[in_holdout, "assignment_probability"] = 1.0
    return frame


def _arm_shares(arms: Any, probabilities: Any) -> tuple[list[Any], np.ndarray]:
    """The arm labels and each one's probability in the exploration bucket."""
    if isinstance(arms, str) or not hasattr(arms, "__len__") or len(arms) == 0:
        raise ValueError(f"arms must be a non-empty sequence of arm labels, got {arms!r}")
    labels = list(np.asarray(arms, dtype=object))
    if any(labels_equal(label, other) for position, label in enumerate(labels) for other in labels[:position]):
        raise ValueError(f"arms has repeated labels: {labels}")
    if probabilities is None:
        return labels, np.full(len(labels), 1.0 / len(labels))
    if isinstance(probabilities, dict):
        share = probabilities_by_arm(probabilities, labels, "probabilities")
        for label, value in zip(labels, share, strict=True):
            _probability(value, f"probabilities[{label!r}]")
    else:
        values = list(probabilities)
        if len(values) != len(labels):
            raise ValueError(f"probabilities has {len(values)} values for {len(labels)} arms {labels}")
        share = np.array([_probability(value, "probabilities") for value in values])
    if abs(share.sum() - 1.0) > PROBABILITY_SUM_TOLERANCE:
        raise ValueError(f"probabilities must sum to 1, got {share.sum()!r}; they are not renormalized")
    return labels, share


def _probability(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < value <= 1.0:
        raise ValueError(f"{argument} must be a probability in (0, 1], got {value!r}: every arm of the bucket "
                         "needs a positive probability")
    return float(value)


def _codes(values: np.ndarray, labels: list[Any], argument: str) -> np.ndarray:
    codes = np.full(len(values), -1, dtype=np.int64)
    for code, label in enumerate(labels):
        codes[label_mask(values, label)] = code
    if (codes < 0).any():
        unknown = sorted({str(value) for value in values[codes < 0]})[:10]
        raise ValueError(f"{argument} has labels {unknown} that are not in arms {labels}")
    return codes


def _one_column(values: Any, argument: str, n_rows: int | None = None, index: pd.Index | None = None) -> Any:
    """``values`` as a Series (kept, with its index) or a 1-D array of ``n_rows`` values; a Series must carry
    ``index`` (the index of ``ids``) when that is given."""
    values = as_pandas(values, argument)
    if isinstance(values, pd.Series) and index is not None and not values.index.equals(index):
        raise ValueError(f"{argument} is a Series whose index differs from the index of ids; align them (or pass "
                         "numpy arrays in the same row order)")
    if isinstance(values, pd.DataFrame):
        raise ValueError(f"{argument} must be 1-D (one value per row), got a DataFrame; pass one of its columns")
    if not isinstance(values, pd.Series):
        # A list keeps its values' types (numpy would make [1, True] two integers).
        values = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
        if values.ndim != 1:
            raise ValueError(f"{argument} must be 1-D, got shape {values.shape}")
    if n_rows is not None and len(values) != n_rows:
        raise ValueError(f"{argument} has {len(values)} values but ids has {n_rows}")
    return values
