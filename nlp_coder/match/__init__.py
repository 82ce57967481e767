"""Matching: score fragment vectors against a codebook and decide coded / overlap / uncoded.

* :mod:`~nlp_coder.match.settings`: the one resolver of threshold, margin and method
  (option, else codebook, else the model's registry entry);
* :mod:`~nlp_coder.match.matcher`: the matchers (scikit-learn's estimator contract);
* :mod:`~nlp_coder.match.decide`: the decision rule and its columnar result, :class:`Decisions`;
* :mod:`~nlp_coder.match.cascade`: the fast model first, the full model on uncertain fragments;
* :mod:`~nlp_coder.match.train`: learning from pilot coding.

The names below are imported on first use, so that ``nlp_coder.match.settings`` (which the
command line needs to list its options) loads without numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Decisions": "decide", "best_and_rivals": "decide", "ranked_codes": "decide", "STATUSES": "decide",
    "MATCHERS": "matcher", "CentroidMatcher": "matcher", "CodebookMatcher": "matcher", "Scores": "matcher",
    "build_matcher": "matcher", "codebook_texts": "matcher", "definition_text": "matcher",
    "DEFINITION_WEIGHTS": "settings", "DEFAULT_METHOD": "settings", "SCORING_METHODS": "settings",
    "resolve_settings": "settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nlp_coder.match' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nlp_coder.match.{module}"), name)
    globals()[name] = value
    return value
