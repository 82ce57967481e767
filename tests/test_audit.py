"""Auditing human coding: probably missed fragments, doubtful codings, per-code summary."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SHARED
from refi_projects import make_qdpx

from nlp_coder.analyses.audit import AUDIT_USER, audit, audit_csv, check_project
from nlp_coder.cli import main
from nlp_coder.errors import NlpCoderError
from nlp_coder.refi import read_qdpx
from nlp_coder.run import SuggestOptions
from nlp_coder.segment import SegmentOptions

CODINGS = (
    ("doc1", "She was warm and kind to my kids.", "warmth", "alice"),
    ("doc1", "The bus was late again so I walked.", "support", "alice"),  # doubtful
    ("doc2", "He listened carefully and took notes.", "listening", "bob"),
    ("doc2", "He listened carefully and took notes.", "support", "bob"),  # fits listening better
)


def _audit(tmp_path: Path, codebook: Path | None = None):  # type: ignore[no-untyped-def]
    from nlp_coder.embed.models import HashingEmbedder

    project = make_qdpx(tmp_path / "p.qdpx", crlf=True, codings=CODINGS)
    return project, audit(project, codebook or project, tmp_path / "s.db", segment_options=SegmentOptions(
        pipeline="blank"), options=SuggestOptions(model="hash-test", threshold=0.2), embedder=HashingEmbedder())


def test_uncoded_fragments_that_fit_a_code_are_reported_with_evidence(tmp_path: Path, codebook_file: Path) -> None:
    _, report = _audit(tmp_path, codebook_file)
    missed = {f.text: f for f in report.missed}
    drove = missed["He drove me to the hospital appointment."]
    assert drove.code == "support" and drove.score >= drove.threshold
    assert "He drove me to the hospital appointment." not in {f.text for f in report.doubtful}
    # Evidence: the human-coded passages of that code most similar to it.
    assert {e.text for e in drove.evidence} <= {"The bus was late again so I walked.",
                                               "He listened carefully and took notes."}
    assert [f.score for f in report.missed] == sorted((f.score for f in report.missed), reverse=True)
    # Nothing a human coded is reported as missed.
    assert not {f.text for f in report.missed} & {c[1] for c in CODINGS}


def test_codings_that_score_low_or_fit_another_code_are_doubtful(tmp_path: Path, codebook_file: Path) -> None:
    _, report = _audit(tmp_path, codebook_file)
    doubtful = {(f.text, f.code): f for f in report.doubtful}
    bus = doubtful[("The bus was late again so I walked.", "support")]
    assert bus.coder == "alice" and bus.score < bus.threshold and "below its threshold" in bus.reason
    notes = doubtful[("He listened carefully and took notes.", "support")]
    assert notes.other == "listening" and "scores higher for 'Listening'" in notes.reason
    assert ("She was warm and kind to my kids.", "warmth") not in doubtful
    assert ("He listened carefully and took notes.", "listening") not in doubtful
    summary = {s.code: s for s in report.summary}
    assert summary["support"].codings == 2 and summary["support"].doubtful == 2
    assert summary["warmth"].codings == 1 and summary["warmth"].doubtful == 0
    assert summary["support"].missed == sum(f.code == "support" for f in report.missed)


def test_cli_writes_csv_jsonl_and_a_qdpx_to_review(tmp_path: Path, codebook_file: Path) -> None:
    project = make_qdpx(tmp_path / "p.qdpx", crlf=True, codings=CODINGS)
    base = ["check", str(project), "-c", str(codebook_file), "-m", "hash-test", "--spacy", "blank",
            "--threshold", "0.2", "--db", str(tmp_path / "s.db")]
    text = CliRunner().invoke(main, base)
    assert text.exit_code == 0, text.output
    assert "probably missed fragment(s)" in text.stdout and "mean score" in text.stdout
    out_csv, out_jsonl, out_qdpx = tmp_path / "c.csv", tmp_path / "c.jsonl", tmp_path / "c.qdpx"
    for out in (out_csv, out_jsonl, out_qdpx):
        result = CliRunner().invoke(main, [*base, "-q", "-o", str(out)])
        assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert {r["kind"] for r in rows} == {"missed", "doubtful"}
    kinds = [json.loads(line)["kind"] for line in out_jsonl.read_text().splitlines()]
    assert "summary" in kinds
    reviewed = read_qdpx(out_qdpx)
    original = read_qdpx(project)
    assert set(original.codings) <= set(reviewed.codings)
    flags = [c for c in reviewed.codings if c.coder == AUDIT_USER]
    assert len(flags) == len({(r["document"], r["start"], r["end"], r["code"]) for r in rows})
    assert all(c.note.startswith(("missed", "doubtful")) for c in flags)
    if (SHARED / "refi-qda").is_dir():
        import xmlschema

        xmlschema.XMLSchema(str(SHARED / "refi-qda" / "Project-mrt2019.xsd")).validate(
            zipfile.ZipFile(out_qdpx).read("project.qde").decode())


def test_a_corpus_without_codings_is_refused(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(transcript_file), "-c", str(codebook_file), "-m", "hash-test",
                                       "--db", str(tmp_path / "s.db")])
    assert result.exit_code == 1 and "no human codings to check" in result.output


@pytest.mark.parametrize("fmt", ["csv"])
def test_a_corpus_with_a_codings_csv_is_checked(tmp_path: Path, transcript_file: Path, codebook_file: Path,
                                              fmt: str) -> None:
    text = transcript_file.read_text()
    phrase = "The bus was late again so I walked."
    start = text.index(phrase)
    codings = tmp_path / "codings.csv"
    codings.write_text(f"document,start,end,code,coder\ninterview.txt,{start},{start + len(phrase)},warmth,ann\n",
                       encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(transcript_file), "-c", str(codebook_file), "--codings",
                                       str(codings), "-m", "hash-test", "--spacy", "blank", "--threshold", "0.2",
                                       "--db", str(tmp_path / "s.db"), "--format", fmt])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert any(r["kind"] == "doubtful" and r["text"] == phrase for r in rows)
    assert any(r["kind"] == "missed" and r["code"] == "support" for r in rows)


def test_check_project_audits_and_writes_the_findings(tmp_path: Path, codebook_file: Path) -> None:
    from nlp_coder.embed.models import HashingEmbedder

    project = make_qdpx(tmp_path / "p.qdpx", crlf=True, codings=CODINGS)
    options = SuggestOptions(model="hash-test", threshold=0.2)
    out = tmp_path / "findings.csv"
    report = check_project(project, codebook_file, tmp_path / "s.db", out=out, options=options,
                           segment_options=SegmentOptions(pipeline="blank"), embedder=HashingEmbedder())
    assert out.read_text(encoding="utf-8") == audit_csv(report)
    assert report.missed and report.doubtful
    review = tmp_path / "review.qdpx"
    check_project(project, codebook_file, tmp_path / "s.db", out=review, options=options,
                  segment_options=SegmentOptions(pipeline="blank"), embedder=HashingEmbedder())
    assert any(c.coder == AUDIT_USER for c in read_qdpx(review).codings)


def test_check_project_refuses_what_it_cannot_write_before_any_work(tmp_path: Path, transcript_file: Path,
                                                                    codebook_file: Path) -> None:
    db = tmp_path / "s.db"
    with pytest.raises(NlpCoderError, match="needs a .qdpx PROJECT") as combined:
        check_project(transcript_file, codebook_file, db, out=tmp_path / "r.qdpx")
    assert combined.value.code == "E131"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(NlpCoderError) as unwritable:
        check_project(transcript_file, codebook_file, db, out=blocker / "r.csv")
    assert unwritable.value.code == "E400"
    assert not db.exists()
