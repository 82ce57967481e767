"""The review queue's order and the estimates its random share allows.

The queue mixes two kinds of draw. Most are *active*: the pending fragment the machine is least
sure of (its best code nearest its threshold, or two codes nearest each other: an overlap).
Measured with a simulated reviewer on AnnoMI from the learned start (three seeds,
``benchmarks/review.py --priority``), this order and margin sampling (the two best codes
nearest each other, alone) were level, both ahead of random order at 100 and 200 decisions.
A fixed share is *random*: the next pending fragment of one random permutation of the corpus,
fixed by the seed when the review starts.

Why the random share: the fragments the active draws pick are, by design, the hard ones, so the
reviewer's verdicts on them say nothing about how often the machine is right on the rest.
The first ``P`` fragments of a random permutation are a simple random sample of the corpus,
whichever way each of them came to be decided; the precision of the machine's suggestions of a
code, and the share of codes it misses among the fragments it left uncoded, are estimated on
that sample alone, without bias, with a Wilson interval.
"""

from __future__ import annotations

import math

import numpy as np

from nlp_coder.review.records import Estimate

Z95 = 1.959963984540054


def wilson(name: str, hits: int, n: int, z: float = Z95) -> Estimate:
    """``hits`` of ``n`` as a share with its Wilson score interval (95 % by default)."""
    from nlp_coder.learn.calibrate import wilson_lower, wilson_upper

    if n <= 0:
        return Estimate(name, 0, 0, None, None, None)
    low, high = float(wilson_lower(hits, n, z)), float(wilson_upper(hits, n, z))  # type: ignore[arg-type]
    return Estimate(name, n, hits, round(hits / n, 4), round(max(0.0, low), 4), round(min(1.0, high), 4))


def uncertainty(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How informative each fragment's review is (higher: more), from its scores on the main
    codes (rows: fragments) and their thresholds: minus the smaller of the best code's distance
    to its threshold and its lead over the runner-up."""
    if scores.shape[1] == 0:
        return np.zeros(scores.shape[0])
    order = np.argsort(-scores, axis=1, kind="stable")
    rows = np.arange(scores.shape[0])
    best = scores[rows, order[:, 0]]
    gap = np.abs(best - thresholds[order[:, 0]])
    if scores.shape[1] > 1:
        lead = best - scores[rows, order[:, 1]]
        gap = np.minimum(gap, lead)
    return -gap


def is_random_slot(served: int, share: float) -> bool:
    """Whether the queue's draw number ``served`` (0, 1, ...) is a random one: a share ``share``
    of the draws, spread evenly (0.25: every fourth)."""
    if share <= 0:
        return False
    if share >= 1:
        return True
    return math.floor((served + 1) * share) > math.floor(served * share)
