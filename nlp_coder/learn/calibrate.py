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
false positives of the code they would get.

Each code ends in one of three states (:attr:`CodeThreshold.status`):

* ``calibrated``: a cut holding at least :data:`MIN_EVIDENCE` held-out passages, from at least two
  folds (when there are two), reaches the target; the lowest such cut is the threshold.
* ``missed``: the evidence shows the code misses the target: at every cut holding at least
  :data:`MIN_MISS` passages, even the *upper* bound of the interval is below it. Such a code is
  never ``coded`` (threshold infinite), only listed among a fragment's suggestions.
* ``thin``: neither: too few held-out passages (or all from one fold) to say. The code keeps
  the codebook's threshold (the frozen default's) and is flagged "not calibrated".

The evidence rule matters: on AnnoMI therapist behaviour with 16 exemplars per code from 3
transcripts (3 unequal folds), one code reached "8 of 8 right" from a single fold whose held-out
passages held one other code; its calibrated threshold (0.09, against the codebook's 0.3) then
coded text at a precision of 0.27. A cut resting on fewer passages than :data:`MIN_EVIDENCE`, or
on one fold, does not calibrate.

A fragment is ``coded`` only when its best code (top-1) reaches that code's threshold
(:class:`nlp_coder.learn.artefact.LearnedMatcher`), the rule the calibration measures. So
``coded`` means the same for every calibrated code: a suggestion right at least as often as the
target, out of fold.

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
MIN_EVIDENCE = 10
"""A threshold rests on at least this many held-out passages coded at it."""
MIN_MISS = 5
"""A code is found to miss the target only on cuts holding at least this many passages."""
CALIBRATED, MISSED, THIN = "calibrated", "missed", "thin"


def wilson_lower(right: np.ndarray, total: np.ndarray, z: float = CONFIDENCE_Z) -> np.ndarray:
    """The lower bound of the Wilson score interval of ``right / total`` (elementwise)."""
    return _wilson(right, total, z, -1.0)


def wilson_upper(right: np.ndarray, total: np.ndarray, z: float = CONFIDENCE_Z) -> np.ndarray:
    """The upper bound of the Wilson score interval of ``right / total`` (elementwise)."""
    return _wilson(right, total, z, 1.0)


def _wilson(right: np.ndarray, total: np.ndarray, z: float, sign: float) -> np.ndarray:
    right, total = np.asarray(right, dtype=np.float64), np.asarray(total, dtype=np.float64)
    p = right / total
    centre = p + z * z / (2 * total)
    spread = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return (centre + sign * spread) / (1 + z * z / total)


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
    """Whether the target precision was reached (``status`` is ``calibrated``)."""
    status: str = CALIBRATED
    """``calibrated``, ``missed`` (never coded) or ``thin`` (the codebook's threshold; see the module)."""
    held_out: int = 0
    """Held-out passages whose best code it was."""
    right: int = 0
    """Of those, the passages labelled with it."""
    why: str | None = None
    """Why it is not calibrated, with the numbers (``thin`` and ``missed``)."""


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
        """The code's threshold: infinite for a code that misses the target; None for a code not
        calibrated (too thin evidence, or not learned): it keeps the codebook's."""
        found = next((c for c in self.codes if c.code == code), None)
        if found is None or found.status == THIN:
            return None
        return math.inf if found.threshold is None else found.threshold

    @property
    def unreached(self) -> tuple[str, ...]:
        """The codes whose evidence shows they miss the target (never coded)."""
        return tuple(c.code for c in self.codes if c.status == MISSED)

    @property
    def uncalibrated(self) -> tuple[str, ...]:
        """The codes whose held-out evidence is too thin to calibrate (the codebook's threshold)."""
        return tuple(c.code for c in self.codes if c.status == THIN)


def _cut(scores: np.ndarray, right: np.ndarray, target: float, folds: np.ndarray | None = None,
         ) -> tuple[float, str, str | None]:
    """The threshold of one code from its top-1 held-out passages: ``(cut, status, why)``.

    ``calibrated``: the lowest cut holding :data:`MIN_EVIDENCE` passages or more (from two folds
    or more, when ``folds`` holds two) whose precision reaches ``target`` with confidence
    (:func:`wilson_lower`); ``folds``: the fold of each passage when the calibration has two or
    more, else None. ``missed``: at every cut holding :data:`MIN_MISS` passages or more the
    upper bound is below the target. Else ``thin``. The cut returned for the last two is that of
    the best precision (ties: the lower). ``scores`` not empty."""
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(right[order])
    counts = np.arange(1, len(ranked) + 1)
    precision = hits / counts
    # Only the last of equal scores is a cut (a threshold takes all of them).
    last = np.append(ranked[1:] != ranked[:-1], True)
    enough = counts >= MIN_EVIDENCE
    if folds is not None:  # from two folds or more: a passage at or above the cut is from another fold than the first
        enough &= np.cumsum(folds[order] != folds[order][0]) > 0
    lower = wilson_lower(hits, counts)
    ok = np.flatnonzero(last & enough & (lower >= target - 1e-12))
    if ok.size:
        return float(ranked[ok[-1]]), CALIBRATED, None
    candidates = np.flatnonzero(last)
    top = precision[candidates].max()
    best = candidates[np.flatnonzero(precision[candidates] >= top - 1e-12)[-1]]
    sized = np.flatnonzero(last & (counts >= MIN_MISS))
    n, r = int(counts[-1]), int(hits[-1])
    if sized.size and (wilson_upper(hits[sized], counts[sized]) < target - 1e-12).all():
        return float(ranked[best]), MISSED, (f"{r} of {n} held-out passages right, at best "
                                             f"{precision[sized].max():.2f} at a cut of {MIN_MISS} or more "
                                             f"(the interval's upper bound stays below {target:g})")
    if n < MIN_EVIDENCE:
        why = f"{r} of {n} held-out passages right: fewer than {MIN_EVIDENCE} to calibrate on"
    elif folds is not None and len(np.unique(folds)) < 2:
        why = f"{r} of {n} held-out passages right, all held out by one fold"
    else:
        why = (f"{r} of {n} held-out passages right, at best {top:.2f} at a cut of {int(counts[best])}: "
               f"not enough to show {target:g}")
    return float(ranked[best]), THIN, why


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
              target: float = TARGET_PRECISION, folds: Sequence[int] | None = None) -> Calibration:
    """Thresholds and margin from out-of-fold ``scores`` (rows: held-out passages, columns:
    ``codes``; NaN rows are skipped), ``truth`` (a code's column, or -1 for text no code fits)
    and ``folds`` (the fold that held each row out; None: one fold, no fold rule).

    The shares (uncoded, overlap) count a ``thin`` code as never coded: its threshold is the
    codebook's, on another scale than these scores.
    """
    from nlp_coder.match.decide import ranked_codes

    check_target(target)
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.int64)
    keep = ~np.isnan(scores).any(axis=1)
    scores, truth = scores[keep], truth[keep]
    fold = None if folds is None else np.asarray(folds, dtype=np.int64)[keep]
    n, k = scores.shape
    best = ranked_codes(scores)[:, 0] if n else np.zeros(0, dtype=np.int64)  # the top-1 rule of the matcher
    top = scores[np.arange(n), best] if n else np.zeros(0)
    thresholds = np.zeros(k)
    out = []
    for j, code in enumerate(codes):
        mine = best == j
        positives = int((truth == j).sum())
        if not mine.any():  # never the best code out of fold
            thresholds[j] = math.inf
            out.append(CodeThreshold(code, None, None, 0.0, False, THIN, 0, 0,
                                     f"never the best code of a held-out passage ({positives} of its own held out)"))
            continue
        several = fold is not None and len(np.unique(fold)) > 1
        cut, status, why = _cut(top[mine], truth[mine] == j, target, fold[mine] if several else None)
        reached = status == CALIBRATED
        thresholds[j] = cut if reached else math.inf  # not rounded: a rounded cut could leave out its own passage
        coded = mine & (top >= cut)
        precision = float((truth[coded] == j).mean()) if coded.any() else None
        recall = float((coded & (truth == j)).sum() / positives) if positives else None
        out.append(CodeThreshold(code, cut if reached else None,
                                 None if precision is None else round(precision, 4),
                                 None if recall is None else round(recall, 4), reached, status,
                                 int(mine.sum()), int((truth[mine] == j).sum()), why))
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
