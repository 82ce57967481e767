"""REFI-QDA: reading tool-shaped .qdpx projects and .qdc codebooks, writing them back, safely."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SHARED
from refi_projects import CODINGS, TRANSCRIPT_1, make_qdpx

from nlp_coder.cli import main
from nlp_coder.codebook import load_codebook
from nlp_coder.errors import InputError
from nlp_coder.readers import read_corpus
from nlp_coder.refi import (
    MACHINE_USER,
    Coding,
    build_qdpx,
    codebook_to_yaml,
    parse_description,
    read_codings,
    read_qdc,
    read_qdpx,
    render_qdc,
)

XSD = SHARED / "refi-qda" / "Project-mrt2019.xsd"
# The codebook schema of REFI-QDA 1.5 (section 5.2), which ../shared does not hold as a file.
CODEBOOK_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns="urn:QDA-XML:codebook:1.0" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
  targetNamespace="urn:QDA-XML:codebook:1.0" elementFormDefault="qualified" attributeFormDefault="unqualified">
 <xsd:element name="CodeBook" type="CodeBookType"/>
 <xsd:complexType name="CodeBookType"><xsd:sequence>
  <xsd:element name="Codes" type="CodesType"/><xsd:element name="Sets" type="SetsType" minOccurs="0"/>
 </xsd:sequence><xsd:attribute name="origin" type="xsd:string"/></xsd:complexType>
 <xsd:complexType name="CodesType"><xsd:sequence>
  <xsd:element name="Code" type="CodeType" maxOccurs="unbounded"/></xsd:sequence></xsd:complexType>
 <xsd:complexType name="SetsType"><xsd:sequence>
  <xsd:element name="Set" type="SetType" maxOccurs="unbounded"/></xsd:sequence></xsd:complexType>
 <xsd:complexType name="CodeType"><xsd:sequence>
  <xsd:element name="Description" type="xsd:string" minOccurs="0"/>
  <xsd:element name="Code" type="CodeType" minOccurs="0" maxOccurs="unbounded"/></xsd:sequence>
  <xsd:attribute name="guid" type="GUIDType" use="required"/>
  <xsd:attribute name="name" type="xsd:string" use="required"/>
  <xsd:attribute name="isCodable" type="xsd:boolean" use="required"/>
  <xsd:attribute name="color" type="xsd:token"/></xsd:complexType>
 <xsd:complexType name="SetType"><xsd:sequence>
  <xsd:element name="Description" type="xsd:string" minOccurs="0"/>
  <xsd:element name="MemberCode" type="MemberCodeType" minOccurs="0" maxOccurs="unbounded"/></xsd:sequence>
  <xsd:attribute name="guid" type="GUIDType" use="required"/>
  <xsd:attribute name="name" type="xsd:string" use="required"/>
 </xsd:complexType>
 <xsd:complexType name="MemberCodeType"><xsd:attribute name="guid" type="GUIDType" use="required"/></xsd:complexType>
 <xsd:simpleType name="GUIDType"><xsd:restriction base="xsd:token"><xsd:pattern
  value="([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})|(\\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\\})"/>
 </xsd:restriction></xsd:simpleType>
</xsd:schema>
"""

SHAPES = {
    "sources-folder": {},
    "Sources-folder-crlf-braces": {"folder": "Sources", "crlf": True, "braces": True},
    "inline-text": {"inline": True},
    "inline-text-crlf": {"inline": True, "crlf": True},
}


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _texts(project):  # type: ignore[no-untyped-def]
    return [(c.coder, c.code, project.source(c.document).document.text[c.start:c.end]) for c in project.codings]


@pytest.mark.parametrize("shape", SHAPES)
def test_reads_projects_shaped_like_each_tools_exports(tmp_path: Path, shape: str) -> None:
    project = read_qdpx(make_qdpx(tmp_path / "p.qdpx", **SHAPES[shape]))
    assert [d.id for d in project.documents] == ["interview-01", "interview-02"]
    doc = project.documents[0]
    assert doc.text == TRANSCRIPT_1  # line endings normalised, whatever the tool wrote
    assert [t.speaker for t in doc.turns] == ["Interviewer", "Mother", "Interviewer", "Mother", "Mother"]
    # Every coding covers exactly the phrase the coder selected, CRLF sources included.
    assert _texts(project) == [(coder, code, phrase) for _, phrase, code, coder in CODINGS]
    assert project.coders == ("alice", "bob")
    book = project.codebook
    assert book is not None
    assert [(c.id, c.parent, c.codable) for c in book.codes] == [
        ("support", None, True), ("care", None, False), ("warmth", "care", True), ("listening", "care", True)]
    assert book.code("support").examples[0] == "She helped me fill in the housing forms."
    assert book.code("listening").definition == "Listening"  # no description: the name stands in
    assert doc.attributes == {"case": "Family A", "site": "north"}
    assert project.documents[1].attributes == {"site": "south"}


def test_crlf_positions_map_to_and_from_the_tools_offsets(tmp_path: Path) -> None:
    project = read_qdpx(make_qdpx(tmp_path / "p.qdpx", crlf=True))
    source = project.sources[0]
    phrase = "She really listened"
    raw_start = source.raw.index(phrase)
    start = source.document.text.index(phrase)
    assert raw_start - start == 3  # three "\r" before it
    assert source.to_text(raw_start) == start
    assert source.raw_start(start) == raw_start
    line_end = source.document.text.index("\n")
    # An end at a line break stays before the "\r\n"; a start there skips the "\r".
    assert source.raw[source.raw_end(line_end) - 1:source.raw_end(line_end) + 1] == "?\r"
    assert source.raw[source.raw_start(line_end)] == "\n"


@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_keeps_sources_codes_and_codings_exact(tmp_path: Path, shape: str) -> None:
    first = read_qdpx(make_qdpx(tmp_path / "p.qdpx", **SHAPES[shape]))
    machine = (Coding("interview-01", 0, 11, "support", MACHINE_USER, "status: coded\nscore: 0.500"),)
    # Written back from its own XML (what suggest --format qdpx does) ...
    (tmp_path / "back.qdpx").write_bytes(build_qdpx(documents=first.documents, codebook=first.codebook,
                                                    codings=machine, base=first))
    # ... and as a new project (what sample does), with the human codings carried over.
    (tmp_path / "new.qdpx").write_bytes(build_qdpx(documents=first.documents, codebook=first.codebook,
                                                   codings=first.codings + machine))
    for name in ("back.qdpx", "new.qdpx"):
        again = read_qdpx(tmp_path / name)
        assert [(d.id, d.text, d.attributes) for d in again.documents] == \
            [(d.id, d.text, d.attributes) for d in first.documents]
        assert again.codebook is not None and first.codebook is not None
        assert again.codebook.codes == first.codebook.codes
        assert set(again.codings) == set(first.codings + machine)
    back = read_qdpx(tmp_path / "back.qdpx")
    # The tool's own source files and colours are untouched.
    assert dict(back.members) == dict(first.members)
    assert back.refi_codes == first.refi_codes


def test_human_codings_stay_byte_identical_and_reruns_replace_machine_codings(tmp_path: Path) -> None:
    first = read_qdpx(make_qdpx(tmp_path / "p.qdpx", crlf=True, braces=True))
    run1 = (Coding("interview-01", 0, 11, "support", MACHINE_USER, "first"),)
    (tmp_path / "a.qdpx").write_bytes(build_qdpx(documents=first.documents, codebook=first.codebook,
                                                 codings=run1, base=first))
    second = read_qdpx(tmp_path / "a.qdpx")
    run2 = (Coding("interview-02", 0, 11, "warmth", MACHINE_USER, "second"),)
    (tmp_path / "b.qdpx").write_bytes(build_qdpx(documents=second.documents, codebook=second.codebook,
                                                 codings=run2, base=second))
    third = read_qdpx(tmp_path / "b.qdpx")
    assert set(third.codings) == set(first.codings) | set(run2)
    qde = zipfile.ZipFile(tmp_path / "b.qdpx").read("project.qde").decode()
    original = zipfile.ZipFile(tmp_path / "p.qdpx").read("project.qde").decode()
    for n in range(len(CODINGS)):  # each human selection, with its dates and users, is still there verbatim
        guid = f"00000001-0000-4000-8000-{n:012X}"
        assert guid in qde
    assert 'creationDateTime="2024-03-27T19:29:27Z"' in qde and "{AD68FBE7" in original
    with pytest.raises(InputError, match="already holds codings by alice"):
        build_qdpx(documents=first.documents, codebook=first.codebook,
                   codings=(Coding("interview-01", 0, 5, "support", "alice"),), base=first)


def test_qdpx_is_accepted_as_a_corpus_and_as_a_codebook(tmp_path: Path) -> None:
    path = make_qdpx(tmp_path / "p.qdpx", folder="Sources", crlf=True)
    documents = read_corpus(path)
    assert [d.id for d in documents] == ["interview-01", "interview-02"]
    assert any("has no description" in w for w in read_qdpx(path).codebook_warnings)
    assert [c.id for c in load_codebook(path).codes] == ["support", "care", "warmth", "listening"]


def _suggest_qdpx(corpus: Path, codebook: Path, out: Path, tmp_path: Path):
    return _run("suggest", str(corpus), "-c", str(codebook), "-m", "hash-test", "--spacy", "blank", "-q",
                "--threshold", "0.2", "--db", str(tmp_path / "p.db"), "--out", str(out))


def test_suggest_writes_a_qdpx_with_human_codings_and_noted_suggestions(tmp_path: Path) -> None:
    project = make_qdpx(tmp_path / "p.qdpx", crlf=True)
    out = tmp_path / "suggested.qdpx"
    result = _suggest_qdpx(project, project, out, tmp_path)
    assert result.exit_code == 0, result.output
    again = read_qdpx(out)
    human = read_qdpx(project).codings
    assert set(human) <= set(again.codings)
    machine = [c for c in again.codings if c.coder == MACHINE_USER]
    assert machine, "no suggestion was written"
    text = {d.id: d.text for d in again.documents}
    for coding in machine:
        assert coding.note.startswith("status: ") and "\nscore: " in coding.note
        assert text[coding.document][coding.start:coding.end].strip() == text[coding.document][coding.start:coding.end]
    housing = [c for c in machine if text[c.document][c.start:c.end] == "She helped me fill in the forms for housing."]
    assert [c.code for c in housing] == ["support"] and "reason: nearest exemplar" in housing[0].note
    # Same input, same bytes.
    second = tmp_path / "again.qdpx"
    assert _suggest_qdpx(project, project, second, tmp_path).exit_code == 0
    assert second.read_bytes() == out.read_bytes()


def test_suggest_qdpx_from_a_text_corpus_and_a_yaml_codebook(tmp_path: Path, transcript_file: Path,
                                                           codebook_file: Path) -> None:
    out = tmp_path / "s.qdpx"
    assert _suggest_qdpx(transcript_file, codebook_file, out, tmp_path).exit_code == 0
    project = read_qdpx(out)
    assert project.documents[0].text == transcript_file.read_text()
    assert project.coders == (MACHINE_USER,)
    assert project.codebook is not None
    assert project.codebook.codes == load_codebook(codebook_file).codes
    assert [f.name for f in project.codebook.facets] == ["valence"]
    bad = CliRunner().invoke(main, ["suggest", str(transcript_file), "-c", str(codebook_file), "-m", "hash-test",
                                    "--format", "qdpx", "--db", str(tmp_path / "p.db")])
    assert bad.exit_code == 2 and "--out FILE.qdpx" in bad.output


@pytest.mark.shared
def test_written_projects_validate_against_the_refi_schema(tmp_path: Path, transcript_file: Path,
                                                         codebook_file: Path) -> None:
    import xmlschema

    schema = xmlschema.XMLSchema(str(XSD))
    project = make_qdpx(tmp_path / "p.qdpx", crlf=True, braces=True)
    schema.validate(zipfile.ZipFile(project).read("project.qde").decode())  # the fixture itself is valid
    for corpus, book, name in ((project, project, "a.qdpx"), (transcript_file, codebook_file, "b.qdpx"),
                               (project, codebook_file, "c.qdpx")):
        assert _suggest_qdpx(corpus, book, tmp_path / name, tmp_path).exit_code == 0
        schema.validate(zipfile.ZipFile(tmp_path / name).read("project.qde").decode())


def test_qdc_round_trip_keeps_definitions_exemplars_and_facets(tmp_path: Path, codebook_file: Path) -> None:
    import xmlschema

    book = load_codebook(codebook_file)
    qdc = tmp_path / "book.qdc"
    result = _run("codebook", "convert", str(codebook_file), str(qdc))
    assert result.exit_code == 0, result.output
    xmlschema.XMLSchema(CODEBOOK_XSD).validate(qdc.read_text(encoding="utf-8"))
    assert qdc.read_text(encoding="utf-8") == render_qdc(book)
    back = load_codebook(qdc)
    assert back.codes == book.codes and back.facets == book.facets
    yaml_out = tmp_path / "back.yaml"
    assert _run("codebook", "convert", str(qdc), str(yaml_out)).exit_code == 0
    assert load_codebook(yaml_out).codes == book.codes
    assert yaml_out.read_text(encoding="utf-8") == codebook_to_yaml(back)
    warmth = next(c for c in read_qdc(qdc) if c.name == "Warmth")
    assert "Counterexamples:\n- The waiting room was warm and stuffy." in warmth.description


def test_descriptions_written_by_hand_are_read_leniently() -> None:
    definition, sections, meta = parse_description(
        "Talk about practical help.\r\n\r\nAnchor examples:\r\n* “She filled in the forms.”\r\n"
        "1. He drove me there.\r\n\r\nExclusion criteria:\r\n- Emotional support\r\nMore definition.")
    assert definition == "Talk about practical help.\n\nMore definition."
    assert sections == {"examples": ["She filled in the forms.", "He drove me there."],
                        "exclude": ["Emotional support"]}
    assert meta == {}


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(("members", "message"), [
    ({"project.qde": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Project name="x">&a;</Project>'},
     "DTD or entities"),
    ({"project.qde": b'<Project name="x"><Sources>'}, "not well-formed XML"),
    ({"other.xml": b"<x/>"}, "no project.qde"),
    ({"project.qde": b'<Project name="x"/>', "../evil.txt": b"x"}, "unsafe path"),
    ({"project.qde": b'<CodeBook/>'}, "not <Project>"),
    ({"project.qde": b'<Project xmlns="urn:QDA-XML:project:1.0" name="x"><Sources><TextSource guid="'
                     b'01106019-2518-43DD-BBD1-8F0252BACB30" plainTextPath="internal://missing.txt"/></Sources>'
                     b'</Project>'}, "not in the archive"),
])
def test_unsafe_or_malformed_projects_are_refused_in_one_line(tmp_path: Path, members: dict[str, bytes],
                                                              message: str) -> None:
    path = _zip(tmp_path / "bad.qdpx", members)
    with pytest.raises(InputError, match=message):
        read_qdpx(path)
    result = CliRunner().invoke(main, ["segment", str(path)])
    assert result.exit_code == 1 and message.split()[0] in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.qdpx"
    path.write_text("hello")
    with pytest.raises(InputError, match="not a zip archive"):
        read_qdpx(path)


def test_codings_csv_reads_and_reports_bad_rows(tmp_path: Path) -> None:
    good = tmp_path / "c.csv"
    good.write_text("document,start,end,code,coder,text\nd1,0,5,support,ann,Hello\nd2,3,9,,,\n", encoding="utf-8")
    read = read_codings(good)
    assert read.codings == (Coding("d1", 0, 5, "support", "ann"),)
    assert read.documents == ("d1", "d2")
    bad = tmp_path / "bad.csv"
    bad.write_text("document,start,end,code,coder\nd1,5,2,support,ann\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv:2: start 5 and end 2"):
        read_codings(bad)
    missing = tmp_path / "missing.csv"
    missing.write_text("document,start,code\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column end, coder"):
        read_codings(missing)


def test_suggest_jsonl_gives_the_machines_codings(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    rows = [{"document": "d", "start": 0, "end": 4, "status": "coded", "codes": ["a"],
             "facets": {"v": {"codes": ["p"]}}},
            {"document": "d", "start": 5, "end": 9, "status": "uncoded", "codes": [], "facets": {}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    read = read_codings(path)
    assert {(c.code, c.coder) for c in read.codings} == {("a", MACHINE_USER), ("p", MACHINE_USER)}
    assert len(read.units) == 2


def test_refi_commands_have_help_and_a_docs_page() -> None:
    from conftest import REPO

    for command in ("agree", "sample", "check", "codebook convert"):
        result = _run(*command.split(), "--help")
        assert result.exit_code == 0 and "Usage:" in result.output
        assert (REPO / "docs" / "commands" / f"{command.replace(' ', '-')}.md").is_file()
    assert (REPO / "docs" / "refi-qda.md").is_file()


@pytest.mark.shared
def test_sample_and_check_projects_validate_against_the_refi_schema(tmp_path: Path, codebook_file: Path) -> None:
    import xmlschema

    schema = xmlschema.XMLSchema(str(XSD))
    project = make_qdpx(tmp_path / "p.qdpx", folder="Sources", crlf=True)
    out = tmp_path / "sample.qdpx"
    sampled = _run("sample", str(project), "--n", "4", "--seed", "3", "--spacy", "blank", "-q", "-o", str(out))
    assert sampled.exit_code == 0
    schema.validate(zipfile.ZipFile(out).read("project.qde").decode())
    review = tmp_path / "review.qdpx"
    result = _run("check", str(project), "-c", str(codebook_file), "-m", "hash-test", "--spacy", "blank", "-q",
                  "--threshold", "0.2", "--db", str(tmp_path / "s.db"), "-o", str(review))
    assert result.exit_code == 0, result.output
    schema.validate(zipfile.ZipFile(review).read("project.qde").decode())


def test_oversized_members_are_refused_before_they_are_unpacked(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from nlp_coder.readers import limits

    monkeypatch.setattr(limits, "MAX_ZIP_MEMBER_BYTES", 1000)
    path = make_qdpx(tmp_path / "p.qdpx", extra_members={"sources/big.txt": b"a" * 5000})
    with pytest.raises(InputError, match="too large"):
        read_qdpx(path)


def test_facet_threshold_and_margin_survive_the_qdc_round_trip(tmp_path: Path) -> None:
    from conftest import SMALL_CODEBOOK

    source = tmp_path / "book.yaml"
    source.write_text(SMALL_CODEBOOK.replace("    description: Positive or negative.\n",
                                             "    description: Positive or negative.\n    threshold: 0.4\n"
                                             "    margin: 0.05\n"), encoding="utf-8")
    book = load_codebook(source)
    qdc, back = tmp_path / "book.qdc", tmp_path / "back.yaml"
    assert _run("codebook", "convert", str(source), str(qdc)).exit_code == 0
    assert "[nlp-coder facet: valence; threshold: 0.4; margin: 0.05]" in qdc.read_text(encoding="utf-8")
    assert _run("codebook", "convert", str(qdc), str(back)).exit_code == 0
    assert load_codebook(back).facets == book.facets and load_codebook(back).codes == book.codes
