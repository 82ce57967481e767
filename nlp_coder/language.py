"""The language of a document's text, detected offline, so that segmentation and the model fit it.

:func:`detect_language` returns a :class:`LanguageGuess`; ``"und"`` (undetermined) when the text
is too short or mixed to say. Detection uses py3langid (a naive Bayes classifier over byte
n-grams, 97 languages, its model shipped in the package): deterministic, about 0.1 ms for a
sentence and 30 ms for a 30,000-character transcript, after about 0.7 s to load its model once
per process. It is imported only when a text is first detected.

:func:`assign_languages` turns the guesses for a corpus' documents into the language each is
read in: a document whose language cannot be told is read in the corpus' main language.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nlp_coder.records import Codebook

UNDETERMINED = "und"

MIN_CONFIDENCE = 0.5
"""A guess less likely than this (py3langid's normalised probability) is ``"und"``."""
MIN_WORDS = 3
"""Texts with fewer words (runs of letters) are ``"und"``: too short to tell."""
SAMPLE_CHARS = 20_000
"""Characters of a text that are read (its start): more costs time and changes nothing."""
DEFAULT_LANGUAGE = "en"
"""The language a document is read in when neither it nor the rest of the corpus can be told."""

#: Names of the languages the registry's models and the filler lists name (others are shown by code).
LANGUAGE_NAMES: dict[str, str] = {
    "ar": "Arabic", "da": "Danish", "de": "German", "en": "English", "es": "Spanish", "fr": "French",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "no": "Norwegian", "pl": "Polish",
    "pt": "Portuguese", "ru": "Russian", "sv": "Swedish", "th": "Thai", "tr": "Turkish", "zh": "Chinese",
    UNDETERMINED: "undetermined",
}

# Timestamps ("[00:01:02]", "00:00:01,000 --> 00:00:06,400") and markup say nothing of the language.
_NOISE = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?|-->|<[^>\n]{0,60}>|[*_#>\[\]]")
_LETTERS = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class LanguageGuess:
    """A document's language: an ISO 639-1 code (``"en"``, ``"nl"``) or ``"und"``, and how sure."""

    code: str
    confidence: float

    @property
    def known(self) -> bool:
        return self.code != UNDETERMINED

    @property
    def name(self) -> str:
        """The language's English name ("Dutch"), or its code when it has none here."""
        return language_name(self.code)


def language_name(code: str) -> str:
    """``"Dutch"`` for ``"nl"``; the code itself for a language without a name here."""
    return LANGUAGE_NAMES.get(code, code)


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=1)
def detector_identity() -> str:
    """The detector and its version (``py3langid 0.4.0``): part of the cache keys that depend on
    a detected language."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"py3langid {version('py3langid')}"
    except PackageNotFoundError:  # pragma: no cover - a broken installation
        return "py3langid ?"


def detect_language(text: str) -> LanguageGuess:
    """The language of ``text`` (``"und"`` when it cannot be told).

    Timestamps and markup are left out, and only the first :data:`SAMPLE_CHARS` characters
    are read. Texts of fewer than :data:`MIN_WORDS` words, and guesses less likely than
    :data:`MIN_CONFIDENCE`, are ``"und"``. The same text always gets the same guess; the
    confidence is rounded to 4 decimals.
    """
    sample = _NOISE.sub(" ", text[:SAMPLE_CHARS])
    if len(_LETTERS.findall(sample)) < MIN_WORDS:
        return LanguageGuess(UNDETERMINED, 0.0)
    code, probability = _identifier().classify(sample)
    probability = round(float(probability), 4)
    if probability < MIN_CONFIDENCE:
        return LanguageGuess(UNDETERMINED, probability)
    return LanguageGuess(str(code), probability)


def codebook_language(book: Codebook) -> LanguageGuess:
    """The language of a codebook: detected in its codes' definitions and exemplars."""
    return detect_language(" ".join(t for c in book.codes for t in (c.definition, *c.examples) if t))


def main_language(guesses: Mapping[str, LanguageGuess]) -> str | None:
    """The language most documents are in (ties: the first code in alphabetical order), or
    None when none could be told."""
    counts = Counter(g.code for g in guesses.values() if g.known)
    if not counts:
        return None
    return min(counts, key=lambda code: (-counts[code], code))


def assign_languages(guesses: Mapping[str, LanguageGuess], among: Mapping[str, LanguageGuess] | None = None
                     ) -> tuple[dict[str, str], tuple[str, ...]]:
    """The language each document is read in, with one warning per document whose language could
    not be told: it is read in the corpus' main language (:func:`main_language`), else
    :data:`DEFAULT_LANGUAGE`.

    Args:
        guesses: each document's id and its guess (:func:`detect_language`).
        among: the guesses the main language is taken from (default: ``guesses``), e.g. every
            document seen so far when ``guesses`` holds only the new ones.
    """
    main = main_language(guesses if among is None else among)
    fallback = main or DEFAULT_LANGUAGE
    why = "the other documents' language" if main else "the default"
    used: dict[str, str] = {}
    warnings: list[str] = []
    for doc_id, guess in guesses.items():
        if guess.known:
            used[doc_id] = guess.code
        else:
            used[doc_id] = fallback
            warnings.append(f"{doc_id}: its language could not be told (too little text); "
                            f"read as {language_name(fallback)} ({why})")
    return used, tuple(warnings)
