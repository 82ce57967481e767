"""The reading report: what was read from each file, what is coded, what is skipped and why;
its warnings, ``--strict`` (E107), and where it is recorded (the command's output, the manifest)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_coder.cli import main
from nlp_coder.errors import InputError
from nlp_coder.language import detect_language
from nlp_coder.readers import FileReading, ReadingReport, read_corpus_report, reading_report
from nlp_coder.readers.turns import parse_turns
from nlp_coder.records import Document
from nlp_coder.segment import SegmentOptions

CORPUS = REPO / "corpus"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A folder as researchers have them: two labelled interviews, one without labels, a PDF and a .doc."""
    folder = tmp_path / "interviews"
    write(folder / "a.txt", "Interview A\n\nInterviewer: How did it start?\nP1: With a letter from the school.\n"
                            "Interviewer: And then?\nP1: Then a visit, a week later.\n")
    write(folder / "b.txt", "Interviewer1 : Comment ça a commencé ?\nParticipant1 : Avec une lettre de l'école.\n")
    write(folder / "c.txt", "How did it start? With a letter from the school, and then a visit.\n")
    (folder / "d.pdf").write_bytes(b"%PDF-1.4\n")
    (folder / "e.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    return folder


def test_the_report_of_the_bundled_example() -> None:
    report = reading_report(read_corpus_report(CORPUS).documents)
    assert isinstance(report, ReadingReport) and all(isinstance(f, FileReading) for f in report.files)
    assert [f.document for f in report.files][:2] == ["interview-01.txt", "interview-02.txt"]
    first = report.files[0]
    assert (first.format, first.coded, first.interviewers) == ("txt", ("Mother",), ("Interviewer",))
    assert [(s.label, s.turns, s.status) for s in first.speakers] == [
        ("Interviewer", 36, "interviewer"), ("Mother", 36, "coded")]
    assert first.characters == len((CORPUS / "interview-01.txt").read_text(encoding="utf-8"))
    assert first.language == detect_language((CORPUS / "interview-01.txt").read_text(encoding="utf-8")).code
    md = next(f for f in report.files if f.document == "interview-04.md")
    note = "_Fictional transcript. Father of one, interviewed at home while the assessment is still ongoing._"
    assert md.skipped == (("header", len(note)),) and md.unlabelled_turns == 1
    assert report.warnings == (
        "interview-04.md: 97 characters without a speaker read as a header (a title, a date line) and not "
        "coded (--all-speakers codes them)",)
    # with every speaker coded, nothing is skipped and nobody is left out
    everyone = reading_report(read_corpus_report(CORPUS).documents, SegmentOptions(all_speakers=True))
    assert all(not f.skipped and not f.interviewers for f in everyone.files) and everyone.warnings == ()


def test_speaker_selection_is_reported() -> None:
    text = "I: How was it?\nMother: Hard.\nFather: Harder.\nI: Why?\nMother: The letter.\n"
    doc = Document("d.txt", text, "d.txt", "txt", parse_turns(text))
    chosen = reading_report([doc], SegmentOptions(speakers=("Mother",))).files[0]
    assert [(s.label, s.turns, s.status) for s in chosen.speakers] == [
        ("I", 2, "not selected"), ("Mother", 2, "coded"), ("Father", 1, "not selected")]
    excluded = reading_report([doc], SegmentOptions(exclude_speakers=("father",))).files[0]
    assert [s.status for s in excluded.speakers] == ["interviewer", "coded", "excluded"]


def test_a_paper_reports_its_label_like_words_as_text() -> None:
    paragraphs = [f"Paragraph {n} of the paper says something long enough to be prose about the study."
                  for n in range(8)]
    text = "\n\n".join([*paragraphs, "RQ5: Does it work?", "Note: names are invented.", "Note: quotes are cut."]) + "\n"
    doc = Document("paper.txt", text, "paper.txt", "txt", parse_turns(text))
    (file,) = reading_report([doc]).files
    assert file.speakers == () and file.skipped == ()
    assert file.labels_as_text == ("note", "rq5")


def test_a_folder_with_files_it_cannot_read_and_a_file_without_labels(mixed: Path) -> None:
    reading = read_corpus_report(mixed)
    assert reading.unsupported == ("d.pdf", "e.doc")
    assert [d.id for d in reading.documents] == ["a.txt", "b.txt", "c.txt"]
    assert [w for w in reading.warnings if "not read" in w] == [
        f"{mixed}: d.pdf not read: its type is not supported (.txt .md .docx .vtt .srt .csv .jsonl)",
        f"{mixed}: e.doc not read: its type is not supported (.txt .md .docx .vtt .srt .csv .jsonl)"]
    report = reading_report(reading)
    assert [f.speaker_text() for f in report.files] == [
        "Interviewer 2 (interviewer), P1 2", "Interviewer1 1 (interviewer), Participant1 1", "no speaker labels"]
    assert report.files[0].skipped == (("header", len("Interview A")),)
    assert [w.split(":")[0] for w in report.warnings] == ["c.txt", "a.txt"]
    assert report.warnings[0].startswith("c.txt: no speaker label recognised, while 2 other files have them")
    with pytest.raises(InputError) as raised:
        read_corpus_report(mixed, strict=True)
    assert raised.value.code == "E107" and "d.pdf, e.doc" in str(raised.value)


def test_segment_prints_the_report_and_warns(mixed: Path) -> None:
    result = CliRunner().invoke(main, ["segment", str(mixed), "--spacy", "blank"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"warning: {mixed}: d.pdf not read: its type is not supported (.txt .md .docx .vtt .srt .csv .jsonl)" \
        in lines
    assert any(line.startswith("warning: c.txt: no speaker label recognised") for line in lines)
    table = lines[lines.index("read 3 files:") + 1:]
    assert table[0].split() == ["file", "format", "language", "characters", "skipped", "speakers", "(turns)"]
    assert table[2].startswith("b.txt") and table[2].endswith("Interviewer1 1 (interviewer), Participant1 1")
    verbose = CliRunner().invoke(main, ["segment", str(mixed), "--spacy", "blank", "--verbose"])
    assert "  speaker Interviewer1: 1 turn, interviewer" in verbose.output.splitlines()
    assert "  speakers: no speaker labels recognised; all text is coded" in verbose.output.splitlines()
    quiet = CliRunner().invoke(main, ["segment", str(mixed), "--spacy", "blank", "--quiet"])
    assert "read 3 files" not in quiet.output and "warning" not in quiet.output
    strict = CliRunner().invoke(main, ["segment", str(mixed), "--spacy", "blank", "--strict"])
    assert strict.exit_code != 0
    assert strict.output.strip().splitlines()[-1].startswith("Error E107: ")
    assert "Traceback" not in strict.output


def test_suggest_records_the_report_and_the_warnings_in_the_manifest(mixed: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    result = CliRunner().invoke(main, ["suggest", str(mixed), "-c", str(REPO / "codebooks" / "working-alliance.yaml"),
                                       "--model", "hash-test", "--spacy", "blank", "--db", str(db),
                                       "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert "read 3 files:" in result.output
    (manifest,) = [json.loads(row[0]) for row in sqlite3.connect(db).execute("SELECT manifest FROM runs")]
    assert [f["document"] for f in manifest["reading"]] == ["a.txt", "b.txt", "c.txt"]
    assert manifest["reading"][1]["speakers"] == [
        {"label": "Interviewer1", "turns": 1, "status": "interviewer"},
        {"label": "Participant1", "turns": 1, "status": "coded"}]
    assert manifest["reading"][0]["skipped"] == [["header", 11]]
    assert any("d.pdf not read" in w for w in manifest["warnings"])
    assert any(w.startswith("c.txt: no speaker label recognised") for w in manifest["warnings"])


# -- properties ----------------------------------------------------------------------------------

lines = st.lists(st.tuples(st.sampled_from(["Interviewer: ", "P1: ", "**R:** ", "Note: ", "", "Date: ", "# "]),
                           st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)),
                 max_size=12)


@settings(max_examples=100, deadline=None)
@given(lines, st.booleans())
def test_the_report_accounts_for_every_turn(items: list[tuple[str, str]], everyone: bool) -> None:
    text = "\n".join(label + words for label, words in items) + "\n"
    turns = parse_turns(text)
    doc = Document("d.txt", text, "d.txt", "txt", turns)
    (file,) = reading_report([doc], SegmentOptions(all_speakers=everyone)).files
    assert file.characters == len(text)
    assert sum(s.turns for s in file.speakers) + file.unlabelled_turns == len(turns)
    assert [s.label for s in file.speakers] == list(doc.speakers)
    assert 0 <= file.skipped_characters <= file.characters
    assert file.skipped_characters == sum(s.end - s.start for t in turns if t.header and not everyone for s in t.spans)
    assert all(s.status == "coded" for s in file.speakers) or not everyone


def test_the_html_report_shows_what_was_read(tmp_path: Path, codebook_file: Path) -> None:
    corpus = tmp_path / "corpus"
    said = ("Interviewer: How was the first visit?\n"
            "Mother: She listened to my side of the story and was kind and gentle with us.\n"
            "Interviewer: And later?\n"
            "Mother: He drove me to the hospital appointment and helped with the forms.\n"
            "Mother: The parking tickets at the office car park cost me a fortune.\n")
    write(corpus / "a.txt", "Interview A, at home\n\n" + said)
    write(corpus / "b.txt", said.replace("Mother", "Father"))
    (corpus / "notes.pdf").write_bytes(b"%PDF-1.4\n")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(corpus), "-c", str(codebook_file), "-m", "hash-test",
                                       "--db", str(tmp_path / "p.db"), "--out", str(out), "--threshold", "0.2",
                                       "--bootstrap", "3", "--min-cluster-size", "2", "--spacy", "blank"])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "<caption>What was read" in html
    assert "<td>20 (header)</td>" in html
    assert "Interviewer 2 (interviewer), Mother 3" in html
    assert "notes.pdf not read: its type is not supported" in html
