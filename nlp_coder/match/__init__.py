"""Matching: score fragment vectors against a codebook and decide coded / overlap / uncoded.

* :mod:`~nlp_coder.match.settings`: the one resolver of threshold, margin and method
  (option, else codebook, else the model's registry entry);
* :mod:`~nlp_coder.match.matcher`: the matchers (scikit-learn's estimator contract);
* :mod:`~nlp_coder.match.decide`: the decision rule and its columnar result, :class:`Decisions`;
* :mod:`~nlp_coder.match.cascade`: the fast model first, the full model on uncertain fragments;
* :mod:`~nlp_coder.match.train`: learning from pilot coding.
"""

from nlp_coder.match.matcher import (
    DEFINITION_WEIGHTS,
    MATCHERS,
    CentroidMatcher,
    CodebookMatcher,
    Decisions,
    Scores,
    best_and_rivals,
    build_matcher,
    codebook_texts,
    definition_text,
    ranked_codes,
)

__all__ = [
    "DEFINITION_WEIGHTS",
    "MATCHERS",
    "CentroidMatcher",
    "CodebookMatcher",
    "Decisions",
    "Scores",
    "best_and_rivals",
    "build_matcher",
    "codebook_texts",
    "definition_text",
    "ranked_codes",
]
