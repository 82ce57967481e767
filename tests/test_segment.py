from __future__ import annotations

import dataclasses

import pytest

from nlp_coder.errors import InputError
from nlp_coder.records import Document, Span, Turn
from nlp_coder.segment import SegmentOptions, is_interviewer, load_pipeline, segment


def _doc(lines: list[tuple[str | None, str]], doc_id: str = "d.txt") -> Document:
    """A document built by hand: 'Speaker: text' lines, one turn each."""
    text, turns = "", []
    for i, (speaker, said) in enumerate(lines):
        prefix = f"{speaker}: " if speaker else ""
        start = len(text) + len(prefix)
        text += prefix + said + "\n"
        turns.append(Turn(index=i, speaker=speaker, spans=(Span(start, start + len(said)),)))
    return Document(id=doc_id, text=text, source=doc_id, format="txt", turns=tuple(turns))


@pytest.fixture(scope="module")
def blank():
    return load_pipeline("blank")


def _texts(fragments) -> list[str]:
    return [f.text for f in fragments]


def test_offsets_are_exact_and_interviewer_is_skipped(blank) -> None:
    doc = _doc([("Interviewer", "How was it for you?"),
                ("Mother", "It was hard at first. Then she really listened to me.")])
    fragments = segment([doc], SegmentOptions(pipeline="blank"), nlp=blank)
    assert _texts(fragments) == ["It was hard at first.", "Then she really listened to me."]
    for f in fragments:
        assert doc.text[f.start:f.end] == f.text
        assert f.speaker == "Mother" and f.turn == 1 and f.document == "d.txt"
    # ids are <turn>.<n>, so they stay put when the speaker selection changes
    assert [f.id for f in fragments] == ["d.txt#2.1", "d.txt#2.2"]
    everyone = segment([doc], SegmentOptions(all_speakers=True), nlp=blank)
    assert [f.id for f in everyone] == ["d.txt#1.1", "d.txt#2.1", "d.txt#2.2"]


def test_backchannels_merge_with_the_next_sentence_or_are_skipped(blank) -> None:
    doc = _doc([("I", "Right."), ("P1", "Yeah. Mm-hmm. I trusted her in the end."),
                ("P1", "I did trust her. Yeah, sure."), ("P1", "Okay.")])
    fragments = segment([doc], SegmentOptions(min_words=3), nlp=blank)
    assert _texts(fragments) == ["Yeah. Mm-hmm. I trusted her in the end.", "I did trust her. Yeah, sure."]
    unmerged = segment([doc], SegmentOptions(min_words=0), nlp=blank)
    assert "Okay." in _texts(unmerged) and "Yeah." in _texts(unmerged)


def test_speaker_selection(blank) -> None:
    doc = _doc([("Interviewer", "What did the social worker do?"), ("Mother", "She helped us with the forms."),
                ("Father", "She never called me back once.")])
    only_father = segment([doc], SegmentOptions(speakers=("father",)), nlp=blank)
    assert _texts(only_father) == ["She never called me back once."]
    no_father = segment([doc], SegmentOptions(exclude_speakers=("Father",)), nlp=blank)
    assert _texts(no_father) == ["She helped us with the forms."]
    interviewer = segment([doc], SegmentOptions(speakers=("Interviewer",)), nlp=blank)
    assert _texts(interviewer) == ["What did the social worker do?"]
    custom = segment([doc], SegmentOptions(interviewer_labels=("mother",)), nlp=blank)
    assert _texts(custom) == ["What did the social worker do?", "She never called me back once."]


def test_without_a_recognised_interviewer_every_labelled_speaker_is_coded(blank) -> None:
    doc = _doc([(None, "Interview 3, recorded at home."), ("Anna", "We talked about my son every week."),
                ("Ben", "I asked her about the next meeting.")])
    # Text without a speaker is coded unless the reader marked it as a header.
    assert _texts(segment([doc], nlp=blank)) == ["Interview 3, recorded at home.",
                                                 "We talked about my son every week.",
                                                 "I asked her about the next meeting."]
    header = dataclasses.replace(doc, turns=(dataclasses.replace(doc.turns[0], header=True), *doc.turns[1:]))
    assert _texts(segment([header], nlp=blank)) == ["We talked about my son every week.",
                                                    "I asked her about the next meeting."]
    assert _texts(segment([header], SegmentOptions(all_speakers=True), nlp=blank))[0] == \
        "Interview 3, recorded at home."
    unlabelled = _doc([(None, "We talked about my son every week.")])
    assert _texts(segment([unlabelled], nlp=blank)) == ["We talked about my son every week."]


def test_turn_and_window_units(blank) -> None:
    doc = _doc([("P", "One two three. Four five six. Seven eight nine. Ten eleven twelve.")])
    turn = segment([doc], SegmentOptions(unit="turn"), nlp=blank)
    assert _texts(turn) == ["One two three. Four five six. Seven eight nine. Ten eleven twelve."]
    windows = segment([doc], SegmentOptions(unit="window", window=2, stride=2), nlp=blank)
    assert _texts(windows) == ["One two three. Four five six.", "Seven eight nine. Ten eleven twelve."]
    sliding = segment([doc], SegmentOptions(unit="window", window=3, stride=1), nlp=blank)
    assert len(sliding) == 2 and sliding[1].text.startswith("Four")
    odd = segment([doc], SegmentOptions(unit="window", window=3, stride=2), nlp=blank)
    assert [f.text.split(".")[0] for f in odd] == ["One two three", "Four five six"]


def test_sentences_never_cross_spans_and_annotations_stay_whole(blank) -> None:
    text = "P: I was worried, you know? [laughs] It took a while\n[00:01:00]\nand then we talked.\n"
    first = text.index("I was")
    second = text.index("and then")
    doc = Document(id="d", text=text, source="d", format="txt", turns=(
        Turn(0, "P", (Span(first, text.index("\n")), Span(second, len(text) - 1)), timestamp="00:00:10"),))
    fragments = segment([doc], nlp=blank)
    assert _texts(fragments) == ["I was worried, you know?", "[laughs] It took a while", "and then we talked."]
    assert all(f.timestamp == "00:00:10" for f in fragments)


def test_presegmented_rows_are_kept_as_they_are(blank) -> None:
    text = "Yes.\nShe listened to me."
    doc = Document(id="t.csv", text=text, source="t.csv", format="csv", presegmented=True, turns=(
        Turn(0, "client", (Span(0, 4),), fragment_id="r1", attributes={"wave": "1"}),
        Turn(1, "therapist", (Span(5, len(text)),), fragment_id="r2"),
    ), attributes={"site": "A"})
    fragments = segment([doc], SegmentOptions(all_speakers=True))
    assert [(f.id, f.text) for f in fragments] == [("r1", "Yes."), ("r2", "She listened to me.")]
    assert fragments[0].attributes == {"site": "A", "wave": "1"}
    assert [f.id for f in segment([doc])] == ["r1"]  # a therapist is recognised as the interviewer


def test_short_single_sentences_skip_the_model() -> None:
    class NoModel:
        def pipe(self, texts, batch_size=256):
            texts = list(texts)
            assert texts == ["It was hard. Then it got better over time."]
            return [load_pipeline("blank")(t) for t in texts]

    doc = _doc([("P", "She was on time every week"), ("P", "It was hard. Then it got better over time.")])
    assert _texts(segment([doc], nlp=NoModel())) == ["She was on time every week", "It was hard.",
                                                     "Then it got better over time."]


def test_interviewer_labels() -> None:
    for label in ("Interviewer", "I", "INT", "Int 2", "Q1", "interviewer_2", "Therapist", "Moderator"):
        assert is_interviewer(label), label
    for label in ("P1", "Mother", "Respondent", "Isabel", None):
        assert not is_interviewer(label), label


def test_bad_options() -> None:
    with pytest.raises(InputError, match="unknown unit"):
        SegmentOptions(unit="paragraph")
    with pytest.raises(InputError, match="at least 1"):
        SegmentOptions(unit="window", window=0)


@pytest.mark.slow
def test_trained_pipeline_gives_the_same_offsets_invariant() -> None:
    nlp = load_pipeline("auto")
    assert "senter" in nlp.pipe_names
    doc = _doc([("Interviewer", "And then?"), ("Mother", "Well, I mean, she was nice enough. But I didn't "
                                                         "trust her at first, you know? [laughs] It took a while.")])
    fragments = segment([doc], nlp=nlp)
    assert len(fragments) == 3
    assert fragments[2].text == "[laughs] It took a while."
    for f in fragments:
        assert doc.text[f.start:f.end] == f.text


def test_punctuation_closing_a_sentence_stays_with_it() -> None:
    class Splitter:
        """Splits where a trained recogniser sometimes does: just before the full stop."""

        def pipe(self, texts, batch_size=256):
            from types import SimpleNamespace

            for text in texts:
                cut = text.index(". ")
                yield SimpleNamespace(sents=[SimpleNamespace(start_char=0), SimpleNamespace(start_char=cut)])

    doc = _doc([("P", "No. I found out more off Google than off them, honestly.")])
    fragments = segment([doc], SegmentOptions(min_words=1), nlp=Splitter())
    assert _texts(fragments) == ["No.", "I found out more off Google than off them, honestly."]


def test_pipeline_names_are_readable(blank) -> None:
    from nlp_coder.segment import pipeline_name

    assert pipeline_name(blank) == "blank:en (sentencizer)"


def test_documents_cut_together_are_cut_as_one_by_one(blank) -> None:
    from nlp_coder.segment import segment_document, segment_documents

    table = Document(id="t.csv", text="Yes.\nShe listened.", source="t.csv", format="csv", presegmented=True,
                     turns=(Turn(0, "client", (Span(0, 4),), fragment_id="r1"),
                            Turn(1, "client", (Span(5, 18),), fragment_id="r2")))
    docs = [
        _doc([("I", "How was it?"), ("P", "It was fine. Then she left. We waited for a long time, and nobody came.")],
             "a.txt"),
        table,
        _doc([("P", "Short one.")], "b.txt"),
        _doc([("I", "Anything else?"), ("P", "No. Well, yes. The forms were late again and I had to ring them.")],
             "c.txt"),
    ]
    for options in (SegmentOptions(), SegmentOptions(unit="window", window=2)):
        one_by_one = [segment_document(doc, options, blank) for doc in docs]
        assert segment_documents(docs, options, blank) == one_by_one
        assert sum(len(f) for f in one_by_one) > len(docs)  # several sentences were cut


def test_spacy_is_imported_without_torch_and_splits_the_same() -> None:
    import subprocess
    import sys

    text = ("Yeah. I mean, she came round on the Tuesday and we talked for ages. Dr. Smith wasn't there, "
            "was he? No... he'd gone at 5 p.m. sharp.")
    code = ("import sys\n{first}from nlp_coder.segment import load_pipeline\n"
            "nlp = load_pipeline('auto')\n"
            f"print([(s.start_char, s.end_char) for s in nlp({text!r}).sents])\n"
            "print('torch' in sys.modules)\n"
            "import torch, thinc.compat\nprint(torch.ones(2).sum().item(), thinc.compat.has_torch)\n")
    runs = [subprocess.run([sys.executable, "-c", code.format(first=first)], capture_output=True, text=True,
                           check=True).stdout.splitlines() for first in ("", "import torch\n")]
    hidden, loaded = runs
    assert hidden[0] == loaded[0] and hidden[0].count("(") >= 3  # the same sentences either way
    assert hidden[1] == "False" and loaded[1] == "True"  # spaCy alone no longer imports torch
    assert hidden[2] == "2.0 False" and loaded[2] == "2.0 True"  # torch still imports when wanted


def test_a_pipeline_is_loaded_once_per_process() -> None:
    # Loading spaCy's trained pipeline takes about a second; segmenting each group of documents
    # must not pay it again.
    assert load_pipeline("auto") is load_pipeline("auto") and load_pipeline("blank") is load_pipeline("blank")


def test_fillers_and_backchannels_do_not_count_as_words(blank) -> None:
    from nlp_coder.segment import FILLERS, word_count

    assert {"um", "uh", "er", "erm", "hmm", "mm", "yeah", "okay"} <= FILLERS["en"]
    assert not {"yes", "no", "like", "right", "well", "so"} & FILLERS["en"]  # they carry content
    assert word_count("Um, yeah, mm-hmm, uh-huh.", "en") == 0 and word_count("Um, yeah, mm-hmm.") == 4
    doc = _doc([("P1", "Um, yeah, yeah, yeah. I went to the office on Monday."), ("P1", "Okay, I see."),
                ("P1", "Uh, um, erm. Yeah.")])
    fragments = segment([doc], SegmentOptions(pipeline="blank"), nlp=blank)
    # the filler-only sentence merges into the next one; turns of fillers and backchannels are not coded
    assert _texts(fragments) == ["Um, yeah, yeah, yeah. I went to the office on Monday."]
    counted = segment([doc], SegmentOptions(fillers="none"), nlp=blank)
    assert "Okay, I see." in _texts(counted) and "Uh, um, erm. Yeah." in _texts(counted)
    with pytest.raises(InputError):
        SegmentOptions(fillers="xx")


class _Splitter:
    """A stand-in pipeline that breaks sentences after every '|' (so tests choose the boundaries)."""

    def pipe(self, texts, batch_size=256):  # noqa: ARG002 - the pipeline's signature
        for text in texts:
            starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "|" and i + 1 < len(text)]
            yield type("Doc", (), {"sents": [type("Sent", (), {"start_char": s})() for s in starts]})()


def test_fragments_that_do_not_stand_alone_join_their_neighbour(blank) -> None:
    said = "When the problem arrived |there was nobody at all. It was bad. And then it got worse. " \
           "But I coped with it in the end, really I did."
    doc = _doc([("P1", said)])
    # a sentence that ends mid-clause takes the lower-case one after it
    split = segment([doc], SegmentOptions(min_words=0), nlp=_Splitter())
    assert _texts(split) == ["When the problem arrived |there was nobody at all. It was bad. And then it got worse. "
                             "But I coped with it in the end, really I did."]
    assert _texts(segment([doc], SegmentOptions(min_words=0, join=False), nlp=_Splitter())) == [
        "When the problem arrived |", "there was nobody at all. It was bad. And then it got worse. But I coped "
        "with it in the end, really I did."]
    # a conjunction continues a short sentence before it, not a long one
    fragments = segment([doc], SegmentOptions(), nlp=blank)
    assert _texts(fragments) == ["When the problem arrived |there was nobody at all.",
                                 "It was bad. And then it got worse.", "But I coped with it in the end, really I did."]
    assert _texts(segment([doc], SegmentOptions(join=False), nlp=blank))[1:3] == ["It was bad.",
                                                                                  "And then it got worse."]
    for f in fragments:
        assert doc.text[f.start:f.end] == f.text


def test_long_turns_are_cut_into_windows_and_reported(blank) -> None:
    from nlp_coder.segment import Segmenter, cut_documents
    from nlp_coder.store import Store

    long_sentence = " ".join(f"w{i}," if i % 40 == 39 else f"w{i}" for i in range(250)) + "."
    doc = _doc([("P1", "It started with a letter. " + long_sentence), ("P1", "A short turn of words.")], "long.txt")
    options = SegmentOptions(unit="turn", max_words=100, pipeline="blank", language="en")  # "w1 w2 ..." is no language
    [(fragments, stats)] = cut_documents([doc], options, blank)
    # the sentence before the long one is its own window; the long sentence is cut in three even parts
    assert stats.cut == 1 and len(fragments) == 5
    assert all(doc.text[f.start:f.end] == f.text for f in fragments)
    # nothing is lost: the windows cover the turn, word for word
    assert " ".join(f.text for f in fragments[:4]).split() == ("It started with a letter. " + long_sentence).split()
    assert fragments[0].text == "It started with a letter." and fragments[1].text.endswith(",")
    assert max(len(f.text.split()) for f in fragments) <= 100
    with Store.in_memory() as store:
        first = Segmenter(options, store)
        assert [f.text for f in first.fragments_many([doc])[0]] == _texts(fragments)
        assert first.warnings == ["long.txt: 1 turn longer than 100 words was cut into windows of at most 100 words "
                                  "(max_words)"]
        again = Segmenter(options, store)  # from the cache: the same warning
        again.fragments_many([doc])
        assert again.warnings == first.warnings
        assert Segmenter(SegmentOptions(unit="turn", pipeline="blank"), store).key(doc) != first.key(doc)
    assert len(segment([doc], SegmentOptions(unit="turn", max_words=0), nlp=blank)) == 2


def test_segmentation_flags_reach_the_options_and_default_as_the_library_does(tmp_path) -> None:
    import dataclasses
    import json

    import click
    from click.testing import CliRunner

    from nlp_coder.cli import main
    from nlp_coder.cli.common import build_segment_options
    from nlp_coder.cli.options import segment_options

    seen: dict[str, object] = {}

    @click.command()
    @segment_options
    def probe(metadata, **segmenting) -> None:  # noqa: ANN001, ANN003
        seen["defaults"] = build_segment_options(**segmenting)

    assert CliRunner().invoke(probe, []).exit_code == 0
    assert seen["defaults"] == SegmentOptions()
    assert CliRunner().invoke(probe, ["--fillers", "none", "--no-join", "--max-words", "7"]).exit_code == 0
    chosen = seen["defaults"]
    assert (chosen.fillers, chosen.join, chosen.max_words) == ("none", False, 7)
    assert dataclasses.replace(chosen, fillers="auto", join=True, max_words=200) == SegmentOptions()

    path = tmp_path / "t.txt"
    path.write_text("P1: It was bad. And then it got so much worse, honestly, in every single way.\n"
                    "P1: Um, yeah, yeah, yeah.\n", encoding="utf-8")

    def texts(*flags: str) -> list[str]:
        result = CliRunner().invoke(main, ["segment", str(path), "--spacy", "blank", "-q", *flags])
        assert result.exit_code == 0, result.output
        return [json.loads(line)["text"] for line in result.output.splitlines()]

    assert texts() == ["It was bad. And then it got so much worse, honestly, in every single way."]
    assert texts("--no-join") == ["It was bad.", "And then it got so much worse, honestly, in every single way."]
    assert texts("--fillers", "none", "--no-join")[-1] == "Um, yeah, yeah, yeah."
    assert len(texts("--max-words", "5")) == 4
    bad = CliRunner().invoke(main, ["segment", str(path), "--fillers", "xx"])
    assert bad.exit_code != 0 and "E130" in bad.output
