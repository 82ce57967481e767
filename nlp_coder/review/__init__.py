"""The review loop (``nlp-coder review``): a researcher accepts, rejects and recodes the
suggestions one fragment at a time, on a local web page; the decisions are stored as human
codings in the project store, kept apart from the machine's suggestions, and the suggestions are
refitted on them as the review goes (``docs/commands/review.md``).

* :func:`open_review` runs ``suggest`` and returns a :class:`ReviewSession` (the queue, the
  decisions, the progress and the estimates); :mod:`nlp_coder.review.app` serves it.
* :func:`export_review` writes the reviewed codings and the remaining suggestions (CSV, ``.qdpx``).
"""

from nlp_coder.review.export import export_review, review_codings
from nlp_coder.review.records import (
    ACTIONS,
    CodeProgress,
    ContextTurn,
    DocumentProgress,
    Estimate,
    FragmentView,
    Progress,
    ReviewOptions,
    SuggestionView,
)
from nlp_coder.review.session import ReviewSession, open_review
from nlp_coder.store import ReviewRow

__all__ = [
    "ACTIONS", "CodeProgress", "ContextTurn", "DocumentProgress", "Estimate", "FragmentView", "Progress",
    "ReviewOptions", "ReviewRow", "ReviewSession", "SuggestionView", "export_review", "open_review", "review_codings",
]
