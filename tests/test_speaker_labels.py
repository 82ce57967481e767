"""Speaker labels as people write them: spaces before the colon, numbered labels, bold labels,
labels on a line of their own; labels that are text (``RQ5:``, ``Model 3:``, ``Note:``); headers
before the first label. Example tests for each form and Hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlp_coder.readers.turns import accepted_labels, is_speaker_like, parse_turns, read_turns
from nlp_coder.records import Document, Turn
from nlp_coder.segment import SegmentOptions, is_interviewer, load_pipeline, segment_document


def spoken(text: str, turns: tuple[Turn, ...]) -> list[tuple[str | None, str]]:
    return [(t.speaker, " / ".join(text[s.start:s.end] for s in t.spans)) for t in turns]


def coded(text: str, **options: object) -> list[str]:
    doc = Document("d.txt", text, "d.txt", "txt", parse_turns(text))
    return [f.text for f in segment_document(doc, SegmentOptions(pipeline="blank", **options), load_pipeline("blank"))]


# --- the forms, one by one ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Interviewer1 : Bonjour, ça va ?\nParticipant1 : Oui, ça va.\n",
     [("Interviewer1", "Bonjour, ça va ?"), ("Participant1", "Oui, ça va.")]),
    ("Interviewer\u00a0: Bonjour.\nRépondant\u00a0: Oui.\nInterviewer\u00a0: Et alors ?\nRépondant\u00a0: Rien.\n",
     [("Interviewer", "Bonjour."), ("Répondant", "Oui."), ("Interviewer", "Et alors ?"), ("Répondant", "Rien.")]),
    ("Interviewer 2: How did it start?\nP01: With a letter.\n",
     [("Interviewer 2", "How did it start?"), ("P01", "With a letter.")]),
    ("**Interviewer:** How did it start?\n\n**P1**: With a letter.\n",
     [("Interviewer", "How did it start?"), ("P1", "With a letter.")]),
    ("**Interviewer :** How did it start?\n**Anna :** With a letter.\n**Interviewer :** And then?\n"
     "**Anna :** Nothing.\n",
     [("Interviewer", "How did it start?"), ("Anna", "With a letter."), ("Interviewer", "And then?"),
      ("Anna", "Nothing.")]),
    ("INTERVIEWER\nHow did it start?\n\nRESPONDENT\nWith a letter.\nIt came on a Monday.\n\nINTERVIEWER\nAnd then?\n",
     [("INTERVIEWER", "How did it start?"), ("RESPONDENT", "With a letter.\nIt came on a Monday."),
      ("INTERVIEWER", "And then?")]),
    ("**Interviewer**\nHow did it start?\n\n**Anna Smith**\nWith a letter.\n\n**Interviewer**\nAnd then?\n\n"
     "**Anna Smith**\nNothing.\n",
     [("Interviewer", "How did it start?"), ("Anna Smith", "With a letter."), ("Interviewer", "And then?"),
      ("Anna Smith", "Nothing.")]),
    ("Interviewer:\nHow did it start?\nP1:\nWith a letter.\n",
     [("Interviewer", "How did it start?"), ("P1", "With a letter.")]),
])
def test_label_forms(text: str, expected: list[tuple[str, str]]) -> None:
    assert spoken(text, parse_turns(text)) == expected


@pytest.mark.parametrize("label", ["Interviewer1 :", "Interviewer 2:", "INTERVIEWER", "**Interviewer:**",
                                   "**Int**:", "I:", "Interviewer1"])
def test_the_interviewer_is_recognised_in_every_form(label: str) -> None:
    colon = label.endswith(":") or label.endswith(":**")
    sep = " " if colon else "\n"
    other = "P1:" if colon else "P1"
    text = (f"{label}{sep}How did it start for you?\n\n{other}{sep}It started with a letter.\n\n"
            f"{label}{sep}What happened next then?\n\n{other}{sep}Nothing happened for weeks.\n")
    turns = parse_turns(text)
    assert [t.speaker is not None for t in turns] == [True] * 4
    assert is_interviewer(turns[0].speaker) and not is_interviewer(turns[1].speaker)
    assert coded(text) == ["It started with a letter.", "Nothing happened for weeks."]


# --- labels that are text -----------------------------------------------------------------------

PROSE = ("This paragraph of the paper says something about the study, in a sentence long enough "
         "to be read as prose by anyone.")


def paper(*inserted: str) -> str:
    paragraphs = [f"{PROSE} ({n})" for n in range(20)]
    for k, line in enumerate(inserted):
        paragraphs.insert(3 + 4 * k, line)
    return "A study of assessments\n\n" + "\n\n".join(paragraphs) + "\n"


@pytest.mark.parametrize("inserted", [
    ("RQ5: Does the assessment change how parents see social workers?",),
    ("Model 3: a regression of trust on the number of visits.",),
    ("Note: the names are invented.", "Note: the quotes are shortened."),
    ("H1: Parents who are listened to trust more.", "H2: Trust grows with visits."),
    ("Smith: the first author.", "Smith: also the last author."),
    ("RQ1: First question?", "RQ2: Second question?", "RQ3: Third question?"),
])
def test_labels_in_a_paper_are_text_and_everything_is_coded(inserted: tuple[str, ...]) -> None:
    text = paper(*inserted)
    reading = read_turns(text)
    assert reading.labels == ()
    assert all(t.speaker is None and not t.header for t in reading.turns)
    for line in inserted:  # each label line is text of its own paragraph
        assert any(text[s.start:s.end] == line for t in reading.turns for s in t.spans)
    assert len(reading.turns) == 21 + len(inserted)


def test_a_short_id_or_role_is_a_speaker_even_once() -> None:
    assert accepted_labels(["P1"]) == {"p1"}
    assert accepted_labels(["Interviewer 2"]) == {"interviewer 2"}
    assert accepted_labels(["RQ5"]) == set()
    assert accepted_labels(["Model 3", "Model 3"]) == set()
    assert accepted_labels(["Note", "Note"]) == set()
    assert accepted_labels(["Dr. Smith", "Dr. Smith"]) == {"dr. smith"}
    # ids and names count only where labels open a quarter of the paragraphs; role words always
    assert accepted_labels(["P1", "Dr. Smith", "Dr. Smith"], paragraphs=13) == set()
    assert accepted_labels(["Participant 3", "P1"], paragraphs=40) == {"participant 3"}
    assert accepted_labels(["P1", "Dr. Smith", "Dr. Smith"], paragraphs=12) == {"p1", "dr. smith"}
    assert not is_speaker_like("H1") and not is_speaker_like("So") and is_speaker_like("IV")


def test_a_quoted_participant_in_a_paper_keeps_the_text_around_it_coded() -> None:
    text = paper("Participant 3: It was the letter that scared me most.")
    reading = read_turns(text)
    assert reading.labels == ("Participant 3",)
    # the text before the label is coded, all but the title (a header)
    assert coded(text)[0] == f"{PROSE} (0)"
    assert coded(text, all_speakers=True)[0] == "A study of assessments"


# --- text before the first label ----------------------------------------------------------------

def test_a_real_header_is_not_coded_and_speech_before_the_first_label_is() -> None:
    text = ("Interview 12, recorded at home\nDate: 3 May 2021\nLocation: the family's kitchen\n\n"
            "_Transcribed by the first author; names changed._\n\n"
            "[Recording starts]\n\n"
            "We had been talking for a while before the recorder went on, about the first letter.\n\n"
            "I: Shall we start properly?\nP1: Sure, go ahead.\n")
    turns = parse_turns(text)
    assert [(t.speaker, t.header) for t in turns] == [
        (None, True), (None, True), (None, True), (None, False), ("I", False), ("P1", False)]
    assert coded(text) == ["We had been talking for a while before the recorder went on, about the first letter.",
                           "Sure, go ahead."]
    assert coded(text, all_speakers=True)[0].startswith("Interview 12, recorded at home\nDate: 3 May 2021")


def test_a_document_without_labels_has_no_header() -> None:
    text = "Interview 12\n\nWe talked.\n"
    assert [t.header for t in parse_turns(text)] == [False, False]


# --- properties ---------------------------------------------------------------------------------

WORDS = ["the", "letter", "came", "we", "talked", "about", "school", "it", "was", "hard", "and", "then",
         "she", "listened", "nobody", "rang", "me", "first", "social", "worker"]
sentences = st.lists(st.sampled_from(WORDS), min_size=3, max_size=12).map(lambda w: " ".join(w).capitalize() + ".")
speech = st.lists(sentences, min_size=1, max_size=3).map(" ".join)
long_sentences = st.lists(st.sampled_from(WORDS), min_size=6, max_size=12).map(
    lambda w: " ".join(w).capitalize() + ".")
prose = st.lists(long_sentences, min_size=2, max_size=3).map(" ".join)  # a paper's paragraph: 12 words or more
NAMES = ["Interviewer", "Interviewer1", "Interviewer 2", "Participant 3", "P01", "P2", "R", "I", "IV",
         "Respondent", "Mother", "Speaker 4"]
STYLES = ["{label}: {text}", "{label} : {text}", "**{label}:** {text}", "**{label}**: {text}",
          "{label}:\n{text}", "{upper}\n{text}", "**{label}**\n{text}"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(STYLES), st.lists(st.tuples(st.sampled_from(NAMES), speech), min_size=2, max_size=8),
       st.sampled_from(["\n", "\n\n"]))
def test_every_label_form_gives_back_the_speakers_and_their_words(
        style: str, said: list[tuple[str, str]], gap: str) -> None:
    bare = "\n" in style
    if bare:  # a label alone on its line must recur: say everything twice
        said = said + said
    text = gap.join(style.format(label=label, upper=label.upper(), text=words) for label, words in said) + "\n"
    turns = parse_turns(text)
    speakers = [t.speaker.casefold() if t.speaker else None for t in turns]
    # consecutive turns of one speaker stay separate turns, each with its own words
    assert speakers == [label.casefold() for label, _ in said]
    assert [" ".join(text[s.start:s.end] for s in t.spans) for t in turns] == [words for _, words in said]
    for turn, (label, _) in zip(turns, said):
        assert is_interviewer(turn.speaker) == label.lower().startswith(("interviewer", "i", "iv"))


@settings(max_examples=100, deadline=None)
@given(st.lists(prose, min_size=12, max_size=30),
       st.lists(st.tuples(st.integers(0, 29), st.sampled_from(
           ["RQ5: Does it work?", "Model 3: a regression.", "Note: names are invented.", "H1: trust grows.",
            "Table 2: the sample.", "Smith: the first author.", "Example: a parent.", "Figure 1: the design."])),
           max_size=3))
def test_label_like_lines_in_prose_are_text_and_nothing_is_dropped(
        paragraphs: list[str], inserted: list[tuple[int, str]]) -> None:
    for where, line in inserted:
        paragraphs.insert(min(where, len(paragraphs)), line)
    text = "\n\n".join(paragraphs) + "\n"
    reading = read_turns(text)
    assert reading.labels == ()
    assert [text[s.start:s.end] for t in reading.turns for s in t.spans] == paragraphs
    assert not any(t.header for t in reading.turns)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(speech, st.sampled_from(["Date: 3 May", "Interview 4", "_Names changed._",
                                                   "[Recording starts]"])), max_size=4),
       st.lists(st.tuples(st.sampled_from(["I", "P1"]), speech), min_size=4, max_size=6))
def test_text_before_the_first_label_is_kept_and_only_headers_are_skipped(
        before: list[str], said: list[tuple[str, str]]) -> None:
    text = "\n\n".join([*before, *(f"{label}: {words}" for label, words in said)]) + "\n"
    turns = parse_turns(text)
    preamble = [t for t in turns if t.speaker is None]
    assert [text[t.start:t.end] for t in preamble] == before
    for turn in preamble:  # a header is short: never a paragraph of speech with more than ten words
        assert turn.header == (len(text[turn.start:turn.end].split()) <= 10 or text[turn.start] in "_[")
