"""The language of a document's text, detected offline, so that segmentation and the model fit it.

:func:`detect_language` returns a :class:`LanguageGuess`; ``"und"`` (undetermined) when the text
is too short or mixed to say.
"""

from __future__ import annotations

from dataclasses import dataclass

UNDETERMINED = "und"


@dataclass(frozen=True)
class LanguageGuess:
    """A document's language: an ISO 639-1 code (``"en"``, ``"nl"``) or ``"und"``, and how sure."""

    code: str
    confidence: float

    @property
    def known(self) -> bool:
        return self.code != UNDETERMINED


def detect_language(text: str) -> LanguageGuess:
    """The language of ``text`` (``"und"`` when it cannot be told)."""
    return LanguageGuess(UNDETERMINED, 0.0)
