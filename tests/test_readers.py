"""Tests of the transcript readers: decoding, turn parsing, every format, and corpus folders."""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

import docx
import pytest

from nlp_coder.errors import InputError
from nlp_coder.readers import (
    SUPPORTED_SUFFIXES,
    CorpusReading,
    decode,
    parse_turns,
    read_corpus,
    read_corpus_report,
    read_document,
)
from nlp_coder.records import Document, Turn

TIME_LIKE = re.compile(r"\d:\d\d")


def check_turns(text: str, turns: tuple[Turn, ...]) -> None:
    """The offset invariant: spans in order, inside the text, non-empty and already stripped."""
    previous_end = 0
    for index, turn in enumerate(turns):
        assert turn.index == index
        assert turn.spans, f"turn {index} has no span"
        for span in turn.spans:
            assert 0 <= span.start < span.end <= len(text)
            assert span.start >= previous_end, "spans overlap or are out of order"
            piece = text[span.start:span.end]
            assert piece and piece == piece.strip()
            previous_end = span.end


def check(documents: tuple[Document, ...]) -> tuple[Document, ...]:
    """Check every document's invariants and return the documents."""
    assert documents
    for document in documents:
        check_turns(document.text, document.turns)
    return documents


def turns_of(text: str) -> tuple[Turn, ...]:
    turns = parse_turns(text)
    check_turns(text, turns)
    return turns


def spoken(text: str, turns: tuple[Turn, ...]) -> list[tuple[str | None, list[str]]]:
    """Each turn as (speaker, [span texts])."""
    return [(t.speaker, [text[s.start:s.end] for s in t.spans]) for t in turns]


def read_one(path: Path) -> Document:
    (document,) = check(read_corpus(path))
    return document


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


# --- speaker labels -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "speaker", "said"),
    [
        ("Interviewer: How did it start?", "Interviewer", "How did it start?"),
        ("I: How did it start?", "I", "How did it start?"),
        ("P1: It started slowly.", "P1", "It started slowly."),
        ("Mother: We noticed late.", "Mother", "We noticed late."),
        ("interviewee: quite badly", "interviewee", "quite badly"),
        ("INTERVIEWER: And then?", "INTERVIEWER", "And then?"),
        ("R: Not really.", "R", "Not really."),
        ("Speaker 2: Yes.", "Speaker 2", "Yes."),
        ("Participant 3: Maybe.", "Participant 3", "Maybe."),
        ("**Interviewer:** Tell me more.", "Interviewer", "Tell me more."),
        ("**I**: Tell me more.", "I", "Tell me more."),
        ("__R:__ Fine.", "R", "Fine."),
        ("- P1: A list item turn.", "P1", "A list item turn."),
        ("> P2: A quoted turn.", "P2", "A quoted turn."),
    ],
)
def test_label_styles(line: str, speaker: str, said: str) -> None:
    text = f"{line}\n"
    assert spoken(text, turns_of(text)) == [(speaker, [said])]


def test_repeated_multiword_label_is_a_speaker() -> None:
    text = "Dr. Smith: How are you?\nMrs Jones: Tired.\nDr. Smith: I see.\nMrs Jones: Yes.\n"
    assert spoken(text, turns_of(text)) == [
        ("Dr. Smith", ["How are you?"]),
        ("Mrs Jones", ["Tired."]),
        ("Dr. Smith", ["I see."]),
        ("Mrs Jones", ["Yes."]),
    ]


def test_false_positive_label_is_continuation() -> None:
    text = "Interviewer: Did you agree?\nP1: I wrote it down.\nMy answer: yes\nSo: we left.\n"
    assert spoken(text, turns_of(text)) == [
        ("Interviewer", ["Did you agree?"]),
        ("P1", ["I wrote it down.\nMy answer: yes\nSo: we left."]),
    ]


def test_continuation_lines_and_wrapped_sentences() -> None:
    text = (
        "I: So how was the first week\n"
        "at the new school?\n"
        "P1: It was hard. I did not know\n"
        "anyone there.\n"
        "\n"
        "After a month it got better.\n"
        "I: Good.\n"
    )
    turns = turns_of(text)
    assert spoken(text, turns) == [
        ("I", ["So how was the first week\nat the new school?"]),
        ("P1", ["It was hard. I did not know\nanyone there.", "After a month it got better."]),
        ("I", ["Good."]),
    ]
    assert [t.index for t in turns] == [0, 1, 2]


def test_label_alone_on_its_line_takes_the_following_lines() -> None:
    text = (
        "Speaker 1  0:03\n"
        "Thanks for joining.\n"
        "Speaker 2  0:07\n"
        "Happy to be here,\n"
        "really.\n"
        "Interviewer (00:01:23)\n"
        "First question.\n"
        "Interviewer:\n"
        "Second question.\n"
    )
    turns = turns_of(text)
    assert spoken(text, turns) == [
        ("Speaker 1", ["Thanks for joining."]),
        ("Speaker 2", ["Happy to be here,\nreally."]),
        ("Interviewer", ["First question."]),
        ("Interviewer", ["Second question."]),
    ]
    assert [t.timestamp for t in turns] == ["0:03", "0:07", "00:01:23", None]


# --- timestamps ---------------------------------------------------------------------------------


def test_timestamps_in_every_position_are_outside_spans() -> None:
    text = (
        "[00:01:23] P2: before the label\n"
        "P2 [00:01:30]: between label and colon\n"
        "I: [00:01:40] after the colon\n"
        "(00:01:50) R: round brackets\n"
        "00:02:00 I: bare at line start\n"
        "P2: [01:23] short bracketed\n"
        "I: [0:02:05.450] with milliseconds\n"
        "P2: and then [00:02:10] we left\n"
        "[00:02:20]\n"
        "a line after a stamp line\n"
        "00:02:30 bare stamp then text\n"
    )
    turns = turns_of(text)
    assert spoken(text, turns) == [
        ("P2", ["before the label"]),
        ("P2", ["between label and colon"]),
        ("I", ["after the colon"]),
        ("R", ["round brackets"]),
        ("I", ["bare at line start"]),
        ("P2", ["short bracketed"]),
        ("I", ["with milliseconds"]),
        ("P2", ["and then", "we left", "a line after a stamp line", "bare stamp then text"]),
    ]
    assert [t.timestamp for t in turns] == [
        "00:01:23", "00:01:30", "00:01:40", "00:01:50", "00:02:00", "01:23", "0:02:05.450",
        "00:02:10",
    ]
    for turn in turns:
        for span in turn.spans:
            assert not TIME_LIKE.search(text[span.start:span.end])


def test_timestamp_line_before_a_label_belongs_to_that_turn() -> None:
    text = "I: Question?\n[00:05:00]\nP1: Answer.\n"
    turns = turns_of(text)
    assert spoken(text, turns) == [("I", ["Question?"]), ("P1", ["Answer."])]
    assert [t.timestamp for t in turns] == [None, "00:05:00"]


def test_bracketed_timestamp_with_a_typo_still_opens_a_turn() -> None:
    # Seen in real transcripts: a seconds field with three digits.
    text = "[00:09:01] therapist: Where are you now?\n[00:09:025] therapist: I wonder.\n[00:09:52] client: Ready.\n"
    turns = turns_of(text)
    assert spoken(text, turns) == [("therapist", ["Where are you now?"]), ("therapist", ["I wonder."]),
                                   ("client", ["Ready."])]
    assert [t.timestamp for t in turns] == ["00:09:01", "00:09:025", "00:09:52"]


def test_times_in_speech_are_kept() -> None:
    text = "P1: We met at 10:30 and left at 11:15.\n"
    assert spoken(text, turns_of(text)) == [("P1", ["We met at 10:30 and left at 11:15."])]


# --- preamble, no labels, markdown --------------------------------------------------------------


def test_preamble_before_first_label_has_no_speaker() -> None:
    text = "Interview 12, recorded at home\nDate: 3 May\n\nI: Shall we start?\nP1: Sure.\n"
    assert spoken(text, turns_of(text)) == [
        (None, ["Interview 12, recorded at home\nDate: 3 May"]),
        ("I", ["Shall we start?"]),
        ("P1", ["Sure."]),
    ]


def test_text_without_labels_gives_one_turn_per_paragraph() -> None:
    text = "\nWe moved here in 2019.\nIt was a\nbig change.\n\n\nNow it feels like home.\n"
    assert spoken(text, turns_of(text)) == [
        (None, ["We moved here in 2019.\nIt was a\nbig change."]),
        (None, ["Now it feels like home."]),
    ]


def test_markdown_file_with_headings_rules_and_bold_labels(tmp_path: Path) -> None:
    path = write(tmp_path / "int01.md", (
        "# Interview 1\n"
        "\n"
        "**Interviewer:** How did you hear about the service?\n"
        "\n"
        "**P1:** From my GP.\n"
        "She was *very* clear.\n"
        "\n"
        "## Part two\n"
        "Notes written after the interview.\n"
        "\n"
        "---\n"
        "**Interviewer:** Anything else?\n"
        "**P1:** No.\n"
    ))
    document = read_one(path)
    assert (document.id, document.format, document.source) == ("int01.md", "md", str(path))
    assert spoken(document.text, document.turns) == [
        ("Interviewer", ["How did you hear about the service?"]),
        ("P1", ["From my GP.\nShe was *very* clear."]),
        (None, ["Notes written after the interview."]),
        ("Interviewer", ["Anything else?"]),
        ("P1", ["No."]),
    ]
    assert document.speakers == ("Interviewer", "P1")
    assert not document.presegmented


# --- decoding -----------------------------------------------------------------------------------


def test_crlf_and_lone_cr_are_normalised_before_offsets(tmp_path: Path) -> None:
    path = write(tmp_path / "t.txt", b"I: Hello\r\nthere\r\rP1: Yes\rok\r\n")
    document = read_one(path)
    assert document.text == "I: Hello\nthere\n\nP1: Yes\nok\n"
    first, second = document.turns
    assert [(s.start, s.end) for s in first.spans] == [(3, 14)]
    assert [(s.start, s.end) for s in second.spans] == [(20, 26)]
    assert document.text[20:26] == "Yes\nok"


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    document = read_one(write(tmp_path / "bom.txt", codecs.BOM_UTF8 + "P1: Ça va.\n".encode()))
    assert document.text == "P1: Ça va.\n"
    assert spoken(document.text, document.turns) == [("P1", ["Ça va."])]
    assert document.warnings == ()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_with_bom(tmp_path: Path, encoding: str) -> None:
    data = "I: Grüß dich\r\nP1: Hallo\r\n".encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    document = read_one(write(tmp_path / "wide.txt", data))
    assert document.text == "I: Grüß dich\nP1: Hallo\n"
    assert spoken(document.text, document.turns) == [("I", ["Grüß dich"]), ("P1", ["Hallo"])]


def test_cp1252_fallback_warns(tmp_path: Path) -> None:
    path = write(tmp_path / "old.txt", "P1: The café was “nice”.\n".encode("cp1252"))
    document = read_one(path)
    assert document.text == "P1: The café was “nice”.\n"
    assert document.warnings == (
        f"{path}: not valid UTF-8; read as Windows-1252 (cp1252). Save it as UTF-8 to silence this.",
    )


def test_decode_rejects_undecodable_bytes() -> None:
    with pytest.raises(InputError, match="neither UTF-8 nor Windows-1252") as error:
        decode(b"P1: bad \x81 byte\n", "x.txt")
    assert "Save it as UTF-8" in str(error.value)


@pytest.mark.parametrize("data", [b"", b"  \r\n\t\n", codecs.BOM_UTF8 + b"\n"])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "empty.txt", data)
    with pytest.raises(InputError, match="file is empty") as error:
        read_corpus(path)
    assert str(error.value).startswith(f"{path}: file is empty.")


def test_empty_docx(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file is empty"):
        read_corpus(write(tmp_path / "empty.docx", b""))


def test_binary_file(tmp_path: Path) -> None:
    path = write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match="looks like a binary file, not a transcript") as error:
        read_corpus(path)
    assert ".txt .md .docx .vtt .srt .csv .jsonl" in str(error.value)


def test_pdf_named_txt_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a PDF file"):
        read_corpus(write(tmp_path / "t.txt", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj"))


def test_decode_keeps_text_unchanged_except_line_endings() -> None:
    assert decode(b"  I: a\r\n\tb  \r", "x") == ("  I: a\n\tb  \n", ())


# --- Word ---------------------------------------------------------------------------------------


def test_docx_paragraphs_and_two_column_table(tmp_path: Path) -> None:
    word = docx.Document()
    word.add_heading("Interview 4", level=1)
    word.add_paragraph("Recorded on 2 March.")
    word.add_paragraph("Interviewer: Tell me about your work.")
    word.add_paragraph("P4: I teach.")
    word.add_paragraph("Mostly maths.")
    table = word.add_table(rows=0, cols=2)
    for speaker, said in [("Speaker", "Text"), ("Interviewer", "Since when?"),
                          ("Anna", "Since 2010."), ("", "And I like it.")]:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = speaker, said
    word.add_paragraph("Interviewer: Thank you.")
    path = tmp_path / "int04.docx"
    word.save(str(path))

    document = read_one(path)
    assert document.format == "docx"
    assert document.text.startswith("# Interview 4\nRecorded on 2 March.\n")
    assert spoken(document.text, document.turns) == [
        (None, ["Recorded on 2 March."]),
        ("Interviewer", ["Tell me about your work."]),
        ("P4", ["I teach.\nMostly maths."]),
        ("Interviewer", ["Since when?"]),
        # "Anna" is named once, but the table says she is a speaker
        ("Anna", ["Since 2010.\nAnd I like it."]),
        ("Interviewer", ["Thank you."]),
    ]


def test_docx_three_column_table_has_times(tmp_path: Path) -> None:
    word = docx.Document()
    table = word.add_table(rows=0, cols=3)
    for row in [("Time", "Speaker", "Text"), ("00:00:05", "I", "Hello."), ("00:00:09", "R", "Hi.")]:
        cells = table.add_row().cells
        for cell, value in zip(cells, row):
            cell.text = value
    path = tmp_path / "grid.docx"
    word.save(str(path))
    document = read_one(path)
    assert document.text == "[00:00:05] I: Hello.\n[00:00:09] R: Hi."
    assert [(t.speaker, t.timestamp) for t in document.turns] == [("I", "00:00:05"), ("R", "00:00:09")]


@pytest.mark.parametrize("data", [b"this is not a zip", b"PK\x03\x04 broken zip"])
def test_corrupt_docx(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "broken.docx", data)
    with pytest.raises(InputError, match=r"is not a readable Word \.docx file") as error:
        read_corpus(path)
    assert str(path) in str(error.value)


# --- subtitles ----------------------------------------------------------------------------------

VTT = """WEBVTT

NOTE recorded on zoom

00:00:01.000 --> 00:00:03.000
Welcome, everyone.

00:00:04.000 --> 00:00:06.500
<v Interviewer>How did you <i>first</i> hear of it?</v>

00:00:07.250 --> 00:00:09.000
<v Participant 1>From a friend,

00:00:09.000 --> 00:00:11.000
<v Participant 1>who works there.

00:00:12.000 --> 00:00:13.000
and at church &amp; school.

00:01:02.000 --> 00:01:04.000
<v Interviewer>Thanks.
"""


def test_vtt_voice_tags(tmp_path: Path) -> None:
    document = read_one(write(tmp_path / "call.vtt", VTT))
    assert document.format == "vtt"
    assert document.text == (
        "Welcome, everyone.\n"
        "Interviewer: How did you first hear of it?\n"
        "Participant 1: From a friend,\nwho works there.\nand at church & school.\n"
        "Interviewer: Thanks."
    )
    assert spoken(document.text, document.turns) == [
        (None, ["Welcome, everyone."]),
        ("Interviewer", ["How did you first hear of it?"]),
        ("Participant 1", ["From a friend,\nwho works there.\nand at church & school."]),
        ("Interviewer", ["Thanks."]),
    ]
    assert [t.timestamp for t in document.turns] == ["00:00:01", "00:00:04", "00:00:07.250", "00:01:02"]


def test_vtt_speaker_prefixes(tmp_path: Path) -> None:
    vtt = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n>> Anna: Hello.\n\n"
        "00:00:02.000 --> 00:00:03.000\n[Ben] Hi.\n\n"
        "00:00:03.000 --> 00:00:04.000\n[laughs] yes\n\n"
        "00:00:05.000 --> 00:00:06.000\nAnna:\nSee you at 10:30\n\n"
        "00:00:07.000 --> 00:00:08.000\n>>\nsomeone else\n"
    )
    document = read_one(write(tmp_path / "p.vtt", vtt))
    assert spoken(document.text, document.turns) == [
        ("Anna", ["Hello."]),
        ("Ben", ["Hi.\n[laughs] yes"]),
        ("Anna", ["See you at 10:30"]),
        (None, ["someone else"]),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("00:00:01.000 --> 00:00:02.000\nNo header.\n", "is not a WebVTT file"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nBad time.\n", "has a malformed cue"),
        ("WEBVTT\n\nNOTE only a note\n", "has no caption text"),
    ],
)
def test_malformed_vtt(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_corpus(write(tmp_path / "bad.vtt", content))


SRT = """1
00:00:01,000 --> 00:00:03,000
Interviewer: What changed
after the move?

2
00:00:03,500 --> 00:00:05,000
Maria: <i>Everything.</i>

3
00:00:05,000 --> 00:00:07,120
New friends, new job.

4
00:00:08,000 --> 00:00:09,000
Maria: And a dog.

5
00:00:10,000 --> 00:00:11,000
My answer: keep going.
"""


def test_srt_with_name_prefixes(tmp_path: Path) -> None:
    document = read_one(write(tmp_path / "talk.srt", SRT))
    assert document.format == "srt"
    assert document.text == (
        "Interviewer: What changed\nafter the move?\n"
        "Maria: Everything.\nNew friends, new job.\nAnd a dog.\nMy answer: keep going."
    )
    assert spoken(document.text, document.turns) == [
        ("Interviewer", ["What changed\nafter the move?"]),
        ("Maria", ["Everything.\nNew friends, new job.\nAnd a dog.\nMy answer: keep going."]),
    ]
    assert [t.timestamp for t in document.turns] == ["00:00:01", "00:00:03.500"]


def test_malformed_srt_names_the_line(tmp_path: Path) -> None:
    content = (
        "1\n00:00:01,000 --> 00:00:02,000\nFine.\n\n\n"
        "2\n00:00:0x,000 --> 00:00:03,000\nBroken.\n\n"
        "3\n00:00:04,000 --> 00:00:05,000\nFine again.\n"
    )
    with pytest.raises(InputError, match="cannot read the subtitle block at line 6: '2 00:00:0x"):
        read_corpus(write(tmp_path / "bad.srt", content))


# --- fragment tables ----------------------------------------------------------------------------


def test_csv_semicolon_table_keeps_extra_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "fragments.csv", (
        "id;document;speaker;text;site;wave\r\n"
        "f1;int01;P1;  I moved here, then left.  ;Leeds;1\r\n"
        'f2;int01;P1;"It was hard; really hard.";Leeds;1\r\n'
        "f3;int02;;Second document.;York;2\r\n"
        ";int02;P2;No id given.;York;2\r\n"
        "f5;int02;P2;   ;York;2\r\n"
    ))
    first, second = check(read_corpus(path))
    assert (first.id, first.format, first.presegmented, first.source) == (
        "int01", "csv", True, str(path))
    assert first.text == "I moved here, then left.\nIt was hard; really hard."
    assert [(t.fragment_id, t.speaker) for t in first.turns] == [("f1", "P1"), ("f2", "P1")]
    assert [first.text[t.start:t.end] for t in first.turns] == [
        "I moved here, then left.", "It was hard; really hard."]
    assert first.turns[0].attributes == {"site": "Leeds", "wave": "1"}
    assert first.warnings == ()
    assert second.text == "Second document.\nNo id given."
    assert [(t.fragment_id, t.speaker) for t in second.turns] == [("f3", None), ("row-4", "P2")]
    assert second.turns[1].attributes == {"site": "York", "wave": "2"}
    assert second.warnings == (f"{path}: row 5 (line 6) has empty text; skipped",)


def test_csv_without_document_column_is_one_document(tmp_path: Path) -> None:
    path = write(tmp_path / "sub" / "plain.csv", "text,speaker\nHello,I\n\"Two\nlines\",P1\n")
    (document,) = check(read_corpus(path.parent))
    assert document.id == "plain.csv"
    assert document.text == "Hello\nTwo\nlines"
    assert [(t.fragment_id, t.speaker) for t in document.turns] == [("row-1", "I"), ("row-2", "P1")]


def test_tab_separated_table_and_a_document_left_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "document\ttext\tnote\na\tYes, I did; twice.\tx\nb\t \ty\n")
    (document,) = check(read_corpus(path))
    assert (document.id, document.text) == ("a", "Yes, I did; twice.")
    assert document.turns[0].attributes == {"note": "x"}
    assert document.warnings == (
        f"{path}: row 2 (line 3) has empty text; skipped",
        f"{path}: document 'b' has no fragment with text; skipped",
    )


def test_csv_row_with_too_many_values(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "id;text\n1;Hello; there\n")
    with pytest.raises(InputError, match=r"row 1 \(line 2\) has 3 values but the header has 2 "
                                         r"columns\. Put values that contain a semicolon in double"):
        read_corpus(path)


def test_csv_missing_text_column(tmp_path: Path) -> None:
    path = write(tmp_path / "notext.csv", "id,speaker,body\n1,P1,hello\n")
    with pytest.raises(InputError) as error:
        read_corpus(path)
    assert str(error.value) == (
        f"{path}: has no 'text' column (columns found: id, speaker, body). "
        "A fragment table needs a 'text' column holding each fragment's text."
    )


def test_csv_duplicate_id(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.csv", "id,text\na,one\nb,two\na,three\n")
    with pytest.raises(InputError, match=r"fragment id 'a' appears twice in document 'dup\.csv' "
                                         r"\(row 1 \(line 2\) and row 3 \(line 4\)\)"):
        read_corpus(path)


def test_jsonl_table(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "text": "First.", "speaker": "P1", "age": 34, "tags": ["x"], "note": None},
        {"id": "b", "text": "Second.\r\nline", "document": "other"},
    ]
    content = json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n"
    first, second = check(read_corpus(write(tmp_path / "frags.jsonl", content)))
    assert (first.id, first.format, first.text) == ("frags.jsonl", "jsonl", "First.")
    assert first.turns[0].attributes == {"age": "34", "tags": '["x"]', "note": ""}
    assert (second.id, second.text) == ("other", "Second.\nline")


def test_jsonl_bad_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", '{"text": "ok"}\n\n{"text": "missing quote}\n')
    with pytest.raises(InputError, match=r"line 3 is not valid JSON") as error:
        read_corpus(path)
    assert str(error.value).startswith(f"{path}: line 3")


def test_jsonl_line_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="line 1 is not a JSON object"):
        read_corpus(write(tmp_path / "list.jsonl", '["text"]\n'))


# --- corpus folders and metadata ----------------------------------------------------------------


def test_folder_skips_readme_metadata_hidden_and_unsupported(tmp_path: Path) -> None:
    write(tmp_path / "README.md", "# About this corpus\n")
    write(tmp_path / ".hidden.txt", "P1: secret\n")
    write(tmp_path / ".git" / "notes.txt", "P1: secret\n")
    write(tmp_path / "~$int02.docx", b"lock file")
    write(tmp_path / "audio.mp3", b"\x00\x01")
    write(tmp_path / "site b" / "int10.txt", "I: Ten?\nP10: Ten.\n")
    write(tmp_path / "int02.txt", "I: Two?\nP2: Two.\n")
    write(tmp_path / "int01.txt", "I: One?\nP1: One.\n")
    write(tmp_path / "metadata.csv", (
        "document,gender,age\n"
        "int01.txt,f,34\n"          # by file name
        "int10,m,51\n"              # by stem
        "int99.txt,m,40\n"          # names no document
    ))
    reading = read_corpus_report(tmp_path)
    assert isinstance(reading, CorpusReading)
    documents = check(reading.documents)
    assert [d.id for d in documents] == ["int01.txt", "int02.txt", "site b/int10.txt"]
    assert documents[2].source == str(tmp_path / "site b" / "int10.txt")
    assert [d.attributes for d in documents] == [
        {"gender": "f", "age": "34"}, {}, {"gender": "m", "age": "51"}]
    # the unsupported file is named (hidden, lock, README and metadata files are not)
    assert reading.unsupported == ("audio.mp3",)
    assert len(reading.warnings) == 2
    assert reading.warnings[0] == f"{tmp_path}: audio.mp3 not read: its type is not supported " \
                                  "(.txt .md .docx .vtt .srt .csv .jsonl)"
    assert "row 3 (line 4) names no document read: 'int99.txt'" in reading.warnings[1]
    assert read_corpus(tmp_path) == documents


def test_explicit_metadata_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "a.txt", "P1: Hi.\n")
    meta = write(tmp_path / "people.csv", "Document;group\na.txt;control\n")
    (document,) = check(read_corpus(corpus, metadata=meta))
    assert document.attributes == {"group": "control"}


def test_metadata_without_document_column(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "P1: Hi.\n")
    write(tmp_path / "metadata.csv", "file,group\na.txt,x\n")
    with pytest.raises(InputError, match=r"has no 'document' column \(columns found: file, group\)"):
        read_corpus(tmp_path)


def test_empty_folder(tmp_path: Path) -> None:
    write(tmp_path / "README.txt", "about\n")
    with pytest.raises(InputError) as error:
        read_corpus(tmp_path)
    assert str(error.value).startswith(f"{tmp_path}: no transcript found in the folder")


def test_unsupported_single_file_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"unsupported file type '\.pdf'"):
        read_corpus(write(tmp_path / "paper.pdf", b"%PDF"))
    with pytest.raises(InputError, match="no such file or folder"):
        read_corpus(tmp_path / "missing")


def test_duplicate_document_ids_in_folder(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "document,text\nint01,one\n")
    write(tmp_path / "b.csv", "document,text\nint01,two\n")
    with pytest.raises(InputError, match="two documents are named 'int01'"):
        read_corpus(tmp_path)


def test_read_document_with_id(tmp_path: Path) -> None:
    (document,) = check(read_document(write(tmp_path / "x.txt", "P1: Hi.\n"), document_id="a/x.txt"))
    assert document.id == "a/x.txt"
    assert SUPPORTED_SUFFIXES == (".txt", ".md", ".docx", ".vtt", ".srt", ".csv", ".jsonl")


def test_a_subfolder_that_cannot_be_listed_is_an_error_not_a_skip(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from nlp_coder.readers.corpus import read_corpus_report

    (tmp_path / "a.txt").write_text("Interviewer: Hi?\nP1: Hello there, nice to be here.\n", encoding="utf-8")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "b.txt").write_text("P1: Hidden away.\n", encoding="utf-8")
    scandir = os.scandir

    def refusing(path: object = ".") -> object:
        if Path(str(path)).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", refusing)
    with pytest.raises(InputError) as caught:  # as a file that cannot be read is
        read_corpus_report(tmp_path)
    assert caught.value.code == "E102" and "locked" in str(caught.value) and "Permission denied" in str(caught.value)
