"""Languages: detection per document, segmentation in the document's language, the model that fits."""

from __future__ import annotations

import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_coder.language import LanguageGuess, assign_languages, detect_language, main_language
from nlp_coder.readers import read_corpus
from nlp_coder.segment import FILLERS, word_count

DUTCH = ("Ik vond het heel fijn dat ze echt naar me luisterde. We hebben samen een plan gemaakt voor de "
         "komende weken, en dat gaf me wel een beetje rust.")
ENGLISH = "She really listened to what I said, and we made a plan together for the next few weeks."


def test_detects_english_and_dutch_and_is_sure() -> None:
    assert detect_language(DUTCH).code == "nl"
    assert detect_language(ENGLISH).code == "en"
    assert detect_language(DUTCH).confidence > 0.9
    assert detect_language(DUTCH).name == "Dutch"


@pytest.mark.parametrize("text", ["", "Mm.", "[00:01:02] I: Ja.", "12:30 --> 12:45", "Yeah okay."])
def test_too_little_text_is_undetermined(text: str) -> None:
    guess = detect_language(text)
    assert guess.code == "und" and not guess.known


def test_bundled_example_is_english() -> None:
    for doc in read_corpus(REPO / "corpus"):
        assert detect_language(doc.text).code == "en", doc.id


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=300))
def test_detection_is_deterministic_and_well_formed(text: str) -> None:
    first = detect_language(text)
    assert first == detect_language(text)
    assert 0.0 <= first.confidence <= 1.0
    assert first.code == "und" or first.confidence >= 0.5


def test_undetermined_documents_are_read_in_the_main_language() -> None:
    guesses = {"a": LanguageGuess("nl", 0.99), "b": LanguageGuess("und", 0.1), "c": LanguageGuess("nl", 0.9),
               "d": LanguageGuess("en", 0.9)}
    assert main_language(guesses) == "nl"
    used, warnings = assign_languages(guesses)
    assert used == {"a": "nl", "b": "nl", "c": "nl", "d": "en"}
    assert len(warnings) == 1 and warnings[0].startswith("b: ") and "Dutch" in warnings[0]
    used, warnings = assign_languages({"x": LanguageGuess("und", 0.0)})
    assert used == {"x": "en"} and "the default" in warnings[0]


def test_dutch_fillers_do_not_count() -> None:
    assert word_count("Ja, ehm, nou ja, oké.", "nl") == 0
    assert word_count("Ja, ehm, nou ja, oké.", "en") == 5  # none is an English filler
    assert word_count("Nee, dat klopt niet.", "nl") == 4  # an answer is not a filler
    assert {"nl", "en"} <= set(FILLERS)
