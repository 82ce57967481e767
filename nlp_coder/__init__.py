"""nlp_coder: pre-code interview transcripts against a codebook, for human review.

The public API (``docs/api.md``)::

    import nlp_coder
    result = nlp_coder.suggest(["I felt heard.", "They never called back."],
                               "codebooks/working-alliance.yaml")
    result.records()      # one dictionary per fragment, as in the JSONL output

Everything named in ``__all__`` is imported on first use, so ``import nlp_coder`` (and
``nlp-coder --help``) stays instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # the steps, as functions
    "load_codebook": "nlp_coder.api",
    "read_corpus": "nlp_coder.api",
    "load_embedder": "nlp_coder.api",
    "suggest": "nlp_coder.api",
    "evaluate": "nlp_coder.api",
    "discover": "nlp_coder.api",
    "sensitivity": "nlp_coder.api",
    # what they return and take
    "SuggestResult": "nlp_coder.run",
    "SegmentOptions": "nlp_coder.segment",
    "CorpusReading": "nlp_coder.readers",
    "reading_report": "nlp_coder.readers",
    "ReadingReport": "nlp_coder.readers",
    "FileReading": "nlp_coder.readers",
    "GoldFragment": "nlp_coder.readers.gold",
    "EvaluationReport": "nlp_coder.analyses.evaluate",
    "Discovery": "nlp_coder.analyses.discover",
    "Sensitivity": "nlp_coder.analyses.sensitivity",
    "Codebook": "nlp_coder.records",
    "Code": "nlp_coder.records",
    "Document": "nlp_coder.records",
    "Fragment": "nlp_coder.records",
    "FragmentResult": "nlp_coder.records",
    "MatchSettings": "nlp_coder.records",
    "RunManifest": "nlp_coder.records",
    # matching on vectors you have
    "CodebookMatcher": "nlp_coder.match.matcher",
    "CentroidMatcher": "nlp_coder.match.matcher",
    "build_matcher": "nlp_coder.match.matcher",
    "codebook_texts": "nlp_coder.match.matcher",
    "resolve_settings": "nlp_coder.match.settings",
    # the review loop (nlp-coder review)
    "open_review": "nlp_coder.review",
    "export_review": "nlp_coder.review",
    "ReviewSession": "nlp_coder.review",
    "ReviewOptions": "nlp_coder.review",
    # models and the store
    "Embedder": "nlp_coder.embed.protocol",
    "HashingEmbedder": "nlp_coder.embed.protocol",
    "Store": "nlp_coder.store",
    # errors
    "NlpCoderError": "nlp_coder.errors",
    "InputError": "nlp_coder.errors",
    "ERROR_CODES": "nlp_coder.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # for type checkers and editors; at run time names load on first use
    from nlp_coder.analyses.discover import Discovery
    from nlp_coder.analyses.evaluate import EvaluationReport
    from nlp_coder.analyses.sensitivity import Sensitivity
    from nlp_coder.api import discover, evaluate, load_codebook, load_embedder, read_corpus, sensitivity, suggest
    from nlp_coder.embed.protocol import Embedder, HashingEmbedder
    from nlp_coder.errors import CATALOGUE as ERROR_CODES
    from nlp_coder.errors import InputError, NlpCoderError
    from nlp_coder.match.matcher import CentroidMatcher, CodebookMatcher, build_matcher, codebook_texts
    from nlp_coder.match.settings import resolve_settings
    from nlp_coder.readers import CorpusReading, FileReading, ReadingReport, reading_report
    from nlp_coder.readers.gold import GoldFragment
    from nlp_coder.records import Code, Codebook, Document, Fragment, FragmentResult, MatchSettings, RunManifest
    from nlp_coder.review import ReviewOptions, ReviewSession, export_review, open_review
    from nlp_coder.run import SuggestResult
    from nlp_coder.segment import SegmentOptions
    from nlp_coder.store import Store


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nlp_coder' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), "CATALOGUE" if name == "ERROR_CODES" else name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
