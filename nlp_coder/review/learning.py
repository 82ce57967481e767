"""Learning from review decisions: the matcher refitted on what the reviewer decided.

:func:`refit` is the one place a review learns: it takes the decided fragments (their vectors
and the reviewer's codes) and returns a fitted matcher that re-scores the rest. It uses the
pilot-coding learner of ``suggest --train-from`` (:class:`nlp_coder.match.train.TrainedMatcher`):
fragments the reviewer coded become exemplars of their codes, a classifier per code is fitted
on the decided fragments (a fragment decided as no code is a negative for every code), and each
code's threshold is calibrated out of fold once it has enough decisions. The classifiers are
regularised as lightly as the learner's head (``C`` = :data:`nlp_coder.learn.choose.HEAD_C`,
against 1 for pilot coding): measured with a simulated reviewer on AnnoMI (``benchmarks/review.py``),
κ of the remaining suggestions after 200 decisions went from 0.560 to 0.578.

When the review starts from a learned model (``review --learn``, the default), the vectors are
the learned model's (the fine-tuned encoder's, or the ensemble's when an ``ensemble-*`` method
was chosen), so the refit builds on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from nlp_coder.match.matcher import CodebookMatcher
from nlp_coder.records import Codebook, Fragment, MatchSettings

Encode = Callable[[Sequence[str]], np.ndarray]


def refit(codebook: Codebook, settings: MatchSettings, fragments: Sequence[Fragment], vectors: np.ndarray,
          codes: Sequence[tuple[str, ...]], encode: Encode, *, seed: int = 0) -> CodebookMatcher:
    """A matcher fitted on the codebook and the reviewer's decisions.

    Args:
        codebook: the codebook under review.
        settings: the review's matching settings (margin, top-k, weights).
        fragments: the decided fragments.
        vectors: their vectors (one row per fragment).
        codes: the reviewer's codes of each (empty: no code fits).
        encode: texts to vectors, for the codebook's texts and the new exemplars.
        seed: the seed of the calibration's folds.
    """
    from nlp_coder.match.train import TrainedMatcher, with_pilot_exemplars

    labels = [set(c) for c in codes]
    if not any(labels):  # nothing coded yet: nothing a classifier can learn; the codebook alone
        from nlp_coder.match.matcher import build_matcher

        return build_matcher(settings).fit(codebook, encode)
    book = with_pilot_exemplars(codebook, fragments, labels)
    matcher = TrainedMatcher.from_settings(settings)
    from nlp_coder.learn.choose import HEAD_C

    matcher.train(book, encode, np.asarray(vectors, dtype=np.float32), labels, [not c for c in codes], seed=seed,
                  c=HEAD_C)
    return matcher
