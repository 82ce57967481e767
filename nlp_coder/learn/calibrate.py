"""Per-code thresholds and a margin calibrated from the cross-validation, so that ``coded``,
``overlap`` and ``uncoded`` mean the same for every code.

The out-of-fold scores of the method chosen (:func:`nlp_coder.learn.choose.cross_validate`)
say, for each held-out passage, how each code scored it when the model had not seen its
document. For each code, the passages whose best code it is, ranked by that score, give the
precision of "this code when its score is at least t" for every cut t; the threshold is the
lowest cut at which that precision reaches the target (default :data:`TARGET_PRECISION`): the
most recall the target allows. "Reaches" asks for evidence: the lower bound of a one-sided 90%
Wilson interval of the precision must reach the target (:func:`wilson_lower`), so a cut that 3
passages of 3 passed does not reach 0.8, and 16 of 16 does. Unlabelled pilot fragments (text no coding touched) count as
false positives of the code they would get. A code whose precision never reaches the target is
never ``coded``: it has no threshold (``None``), so a fragment it fits best is ``uncoded`` with the
code still listed among its suggestions; the calibration reports the best precision it reached
(and the recall at that cut), and ``suggest`` names such codes. So ``coded`` means the same for
every code: a suggestion right at least as often as the target, out of fold.

The margin (one, for the main codes) is then the largest gap between the best and the second
code below which, among passages coded out of fold, the best code is right less often than the
target: such fragments are flagged ``overlap`` for review instead of ``coded``. When no gap is
that unreliable, the margin is 0.

The share of held-out passages left uncoded, coded and flagged is recorded, so a run says what
to expect of its thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TARGET_PRECISION = 0.8
"""The precision each code's threshold aims at by default (``--target-precision``)."""
CONFIDENCE_Z = 1.2816
"""A cut reaches the target when the lower bound of a one-sided 90% Wilson interval of its
precision does (z = 1.2816): 4 right of 4 is not evidence of 80%; 16 of 16 is."""


def wilson_lower(right: np.ndarray, total: np.ndarray, z: float = CONFIDENCE_Z) -> np.ndarray:
    """The lower bound of the Wilson score interval of ``right / total`` (elementwise)."""
    right, total = np.asarray(right, dtype=np.float64), np.asarray(total, dtype=np.float64)
    p = right / total
    centre = p + z * z / (2 * total)
    spread = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return (centre - spread) / (1 + z * z / total)


@dataclass(frozen=True)
class CodeThreshold:
    """One code's calibrated threshold and what it gave out of fold."""

    code: str
    threshold: float | None
    """None: the target is never reached, so the code is never ``coded``."""
    precision: float | None
    """Out-of-fold precision of the code's top-1 suggestions at the threshold (None: never top-1)."""
    recall: float | None
    """Share of the code's passages it codes at the threshold."""
    reached: bool
    """Whether the target precision was reached."""


@dataclass(frozen=True)
class Calibration:
    """The calibrated thresholds (main codes), the margin, and the out-of-fold shares."""

    target_precision: float
    codes: tuple[CodeThreshold, ...]
    margin: float
    passages: int
    """Held-out passages the calibration saw (labelled and unlabelled)."""
    uncoded_share: float
    overlap_share: float

    def threshold(self, code: str) -> float | None:
        """The code's threshold: infinite for a code never coded; None for a code not calibrated."""
        found = next((c for c in self.codes if c.code == code), None)
        if found is None:
            return None
        return math.inf if found.threshold is None else found.threshold

    @property
    def unreached(self) -> tuple[str, ...]:
        """The codes whose precision never reached the target."""
        return tuple(c.code for c in self.codes if not c.reached)


def _cut(scores: np.ndarray, right: np.ndarray, target: float) -> tuple[float, bool]:
    """The lowest cut whose precision (share of ``right`` among scores at or above it) reaches
    ``target`` with confidence (:func:`wilson_lower`); else the cut of the best precision
    (ties: the lower). ``scores`` not empty."""
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(right[order])
    counts = np.arange(1, len(ranked) + 1)
    precision = hits / counts
    # Only the last of equal scores is a cut (a threshold takes all of them).
    last = np.append(ranked[1:] != ranked[:-1], True)
    ok = np.flatnonzero(last & (wilson_lower(hits, counts) >= target - 1e-12))
    if ok.size:
        return float(ranked[ok[-1]]), True
    candidates = np.flatnonzero(last)
    top = precision[candidates].max()
    best = candidates[np.flatnonzero(precision[candidates] >= top - 1e-12)[-1]]
    return float(ranked[best]), False


def check_target(target: object) -> float:
    """``target`` as a precision, or ``E130``."""
    import math

    from nlp_coder.errors import InputError

    if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target) \
            or not 0 < target <= 1:
        raise InputError(f"the target precision must be a number above 0 and at most 1, not {target!r}",
                         "--target-precision", code="E130")
    return float(target)


def calibrate(scores: np.ndarray, truth: Sequence[int], codes: Sequence[str],
              target: float = TARGET_PRECISION) -> Calibration:
    """Thresholds and margin from out-of-fold ``scores`` (rows: held-out passages, columns:
    ``codes``; NaN rows are skipped) and ``truth`` (a code's column, or -1 for text no code fits).
    """
    check_target(target)
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.int64)
    keep = ~np.isnan(scores).any(axis=1)
    scores, truth = scores[keep], truth[keep]
    n, k = scores.shape
    best = scores.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    top = scores[np.arange(n), best] if n else np.zeros(0)
    thresholds = np.zeros(k)
    out = []
    for j, code in enumerate(codes):
        mine = best == j
        if not mine.any():  # never the best code out of fold
            thresholds[j] = math.inf
            out.append(CodeThreshold(code, None, None, 0.0, False))
            continue
        cut, reached = _cut(top[mine], truth[mine] == j, target)
        thresholds[j] = cut if reached else math.inf  # not rounded: a rounded cut could leave out its own passage
        coded = mine & (top >= cut)
        precision = float((truth[coded] == j).mean()) if coded.any() else None
        positives = int((truth == j).sum())
        recall = float((coded & (truth == j)).sum() / positives) if positives else None
        out.append(CodeThreshold(code, cut if reached else None,
                                 None if precision is None else round(precision, 4),
                                 None if recall is None else round(recall, 4), reached))
    above = scores >= thresholds[None, :]
    coded = above[np.arange(n), best] if n else np.zeros(0, dtype=bool)
    margin = 0.0
    if k > 1 and coded.any():
        second = np.where(above, scores, -np.inf)
        second[np.arange(n), best] = -np.inf
        runner = second.max(axis=1)
        contested = coded & np.isfinite(runner)
        gaps = np.where(contested, top - runner, np.inf)
        right = best == truth
        order = np.argsort(gaps[contested], kind="stable")
        g, r = gaps[contested][order], right[contested][order]
        if g.size:
            precision = np.cumsum(r) / np.arange(1, g.size + 1)
            unreliable = np.flatnonzero(precision < target - 1e-12)
            if unreliable.size:
                margin = float(g[unreliable[-1]])
    contested_any = np.zeros(n, dtype=bool)
    if k > 1 and coded.any():
        contested_any = coded & np.isfinite(runner) & (top - runner <= margin)
    return Calibration(float(target), tuple(out), margin, int(n),
                       round(float((~coded).mean()) if n else 0.0, 4),
                       round(float(contested_any.mean()) if n else 0.0, 4))
