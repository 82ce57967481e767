"""Samples for a second coder: reproducible, stratified in proportion, written without codes."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from refi_projects import make_qdpx
from subprocess_run import cli_output_in_two_processes

from nlp_coder.analyses.sample import draw_sample, write_sample
from nlp_coder.cli import main
from nlp_coder.errors import InputError, NlpCoderError
from nlp_coder.records import Fragment
from nlp_coder.refi import MACHINE_USER, read_codings, read_qdpx
from nlp_coder.segment import SegmentOptions


def _fragments(counts: dict[str, int]) -> list[Fragment]:
    out = []
    for site, n in counts.items():
        for i in range(n):
            out.append(Fragment(f"{site}#{i}", site, "R", i, 0, 1, "x", attributes={"site": site}))
    return out


def test_the_same_seed_draws_the_same_sample_in_document_order() -> None:
    fragments = _fragments({"a": 30, "b": 10})
    one, two = draw_sample(fragments, 8, seed=7), draw_sample(fragments, 8, seed=7)
    assert one == two and len(one.fragments) == 8
    assert list(one.fragments) == [f for f in fragments if f in one.fragments]
    assert draw_sample(fragments, 8, seed=8).fragments != one.fragments


def test_stratified_sample_is_proportional_and_adds_up() -> None:
    sample = draw_sample(_fragments({"north": 60, "south": 30, "west": 10}), 10, seed=1, stratify_by="site")
    assert Counter(f.attributes["site"] for f in sample.fragments) == {"north": 6, "south": 3, "west": 1}
    assert sample.strata == (("north", 60, 6), ("south", 30, 3), ("west", 10, 1))
    uneven = draw_sample(_fragments({"a": 5, "b": 5, "c": 5}), 4, seed=1, stratify_by="site")
    assert len(uneven.fragments) == 4


def test_bad_sizes_and_unknown_attributes_are_refused() -> None:
    fragments = _fragments({"a": 3})
    with pytest.raises(InputError, match="cannot draw 4 of 3"):
        draw_sample(fragments, 4, seed=0)
    with pytest.raises(InputError, match="no fragment has the attribute 'age'.*site"):
        draw_sample(fragments, 2, seed=0, stratify_by="age")


def test_cli_writes_a_csv_to_fill_in_and_a_qdpx_without_codes(tmp_path: Path) -> None:
    project = make_qdpx(tmp_path / "p.qdpx", crlf=True)
    out = tmp_path / "sample.csv"
    args = ["sample", str(project), "--n", "3", "--seed", "4", "--spacy", "blank", "--stratify-by", "site"]
    result = CliRunner().invoke(main, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 3 and {r["code"] for r in rows} == {""} and {r["coder"] for r in rows} == {""}
    assert list(rows[0])[:5] == ["document", "start", "end", "code", "coder"]
    texts = {d.id: d.text for d in read_qdpx(project).documents}
    for row in rows:
        assert texts[row["document"]][int(row["start"]):int(row["end"])] == row["text"]
    assert cli_output_in_two_processes(*args, "--out", str(tmp_path / "again{seed}.csv")) == out.read_bytes()
    # Filled in by a second coder, the CSV is a codings file.
    filled = tmp_path / "filled.csv"
    rows[0]["code"], rows[0]["coder"] = "support", "carol"
    with filled.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert [c.coder for c in read_codings(filled).codings] == ["carol"]

    qdpx = tmp_path / "sample.qdpx"
    result = CliRunner().invoke(main, [*args, "-o", str(qdpx)])
    assert result.exit_code == 0, result.output
    drawn = read_qdpx(qdpx)
    assert drawn.codings == ()  # nobody's codes
    assert drawn.codebook is not None and [c.id for c in drawn.codebook.codes][:1] == ["support"]
    qde = __import__("zipfile").ZipFile(qdpx).read("project.qde").decode()
    assert qde.count("<PlainTextSelection") == 3 and "sample 1 of 3" in qde
    assert f'name="{MACHINE_USER}"' in qde
    assert cli_output_in_two_processes(*args, "--out", str(tmp_path / "again{seed}.qdpx")) == qdpx.read_bytes()


def test_write_sample_draws_and_writes_what_the_command_writes(tmp_path: Path) -> None:
    project = make_qdpx(tmp_path / "p.qdpx", crlf=True)
    out = tmp_path / "lib.csv"
    written = write_sample(project, out, n=3, seed=4, stratify_by="site", segment_options=SegmentOptions(
        pipeline="blank"))
    assert written.fmt == "csv" and len(written.sample.fragments) == 3 and written.fragments >= 3
    cli = tmp_path / "cli.csv"
    result = CliRunner().invoke(main, ["sample", str(project), "--n", "3", "--seed", "4", "--spacy", "blank",
                                       "--stratify-by", "site", "-q", "-o", str(cli)])
    assert result.exit_code == 0, result.output
    assert cli.read_bytes() == out.read_bytes()
    # --format wins over the suffix.
    as_qdpx = write_sample(project, tmp_path / "sample.bin", n=2, seed=1, fmt="qdpx",
                           segment_options=SegmentOptions(pipeline="blank"))
    assert as_qdpx.fmt == "qdpx" and read_qdpx(as_qdpx.out).codings == ()


def test_write_sample_refuses_a_bad_output_before_reading_the_corpus(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-corpus"
    with pytest.raises(NlpCoderError, match=r"cannot write a sample as \.txt.*--out ending in \.csv or \.qdpx") as bad:
        write_sample(missing, tmp_path / "s.txt", n=1, seed=0)
    assert bad.value.code == "E104"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(NlpCoderError) as unwritable:
        write_sample(missing, blocker / "s.csv", n=1, seed=0)
    assert unwritable.value.code == "E400"
    result = CliRunner().invoke(main, ["sample", str(tmp_path), "--n", "1", "--seed", "0", "-o",
                                       str(tmp_path / "s.txt")])
    assert result.exit_code == 1 and result.output.startswith("Error E104: "), result.output
