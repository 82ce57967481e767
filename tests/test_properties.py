"""Property-based tests of every reader: whatever the input, only NlpCoderError escapes, and what
is read keeps its offsets and round-trips where the format allows it.

Each test is deterministic (``derandomize=True``): the same examples run every time.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from xml.sax.saxutils import escape, quoteattr

import srt
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlp_coder.codebook import load_codebook, parse_codebook
from nlp_coder.errors import CATALOGUE, NlpCoderError
from nlp_coder.readers import decode, limits, parse_turns, read_corpus_report, read_document
from nlp_coder.readers.captions import parse_srt
from nlp_coder.readers.decoding import normalise_newlines
from nlp_coder.readers.gold import read_gold
from nlp_coder.readers.limits import JsonProblem, json_depth, load_json
from nlp_coder.records import Code, Codebook, Document, Turn
from nlp_coder.refi import codebook_to_yaml, read_codings, read_qdc, read_qdpx, render_qdc
from nlp_coder.refi.model import Coding

T = TypeVar("T")


def fixed(examples: int) -> settings:
    """Deterministic settings: the same ``examples`` examples on every run."""
    return settings(derandomize=True, deadline=None, max_examples=examples, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def read_or_refuse(call: Callable[[], T]) -> T | None:
    """Run a reader: it returns, or raises NlpCoderError with a catalogue code and a one-line
    message (anything else propagates and fails the test)."""
    try:
        return call()
    except NlpCoderError as error:
        assert error.code in CATALOGUE
        assert "\n" not in str(error) and "\r" not in str(error)
        return None


def in_file(name: str, data: bytes | str, call: Callable[[Path], T]) -> T | None:
    """Write ``data`` to a file called ``name`` in a fresh folder and read it with ``call``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return read_or_refuse(lambda: call(path))


def check_turns(text: str, turns: tuple[Turn, ...]) -> None:
    """Turns are numbered in order; spans are in order, inside the text, non-empty, stripped."""
    previous_end = 0
    for index, turn in enumerate(turns):
        assert turn.index == index and turn.spans
        for span in turn.spans:
            assert previous_end <= span.start < span.end <= len(text)
            piece = text[span.start:span.end]
            assert piece == piece.strip()
            previous_end = span.end


def check_documents(documents: tuple[Document, ...] | None) -> None:
    for document in documents or ():
        assert "\r" not in document.text
        check_turns(document.text, document.turns)


# -- strategies ----------------------------------------------------------------------------------

# Text a file can hold (no lone surrogates), with the characters that matter to the readers.
plain = st.text(st.characters(codec="utf-8"), max_size=80)
text_cell = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=80)  # NUL: a binary file
line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), min_size=1, max_size=60)
names = st.text("abcdefghij-_ 0123456789", min_size=1, max_size=12).map(str.strip).filter(bool)
huge = st.one_of(st.integers(), st.integers(min_value=10**18, max_value=10**60), st.just(-1))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | plain,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(plain, inner, max_size=4),
    max_leaves=20,
)
labels = st.sampled_from(["Interviewer:", "I:", "P1:", "**R:**", "Mother:", "[00:01:02] P1:", "Speaker 1  0:03",
                          "> ", "# Heading", "---", "[00:00:05]", "Note:", "", "  ", "- ", "__R__:"])
transcripts = st.lists(st.tuples(labels, plain), max_size=12).map(
    lambda lines: "\n".join(f"{label} {text}" for label, text in lines))


def times(value: int) -> str:
    hours, rest = divmod(value, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


cue_times = st.one_of(st.integers(0, 10**8), st.integers(10**8, 10**30))
cues = st.lists(st.tuples(cue_times, cue_times, st.lists(line_text, min_size=1, max_size=3)), min_size=1,
                max_size=6)


# -- text transcripts ----------------------------------------------------------------------------

@fixed(200)
@given(st.binary(max_size=300))
def test_decode_any_bytes(data: bytes) -> None:
    decoded = read_or_refuse(lambda: decode(data, "x.txt"))
    if decoded is not None:
        assert "\r" not in decoded[0] and decoded[0].strip()


@fixed(200)
@given(st.one_of(transcripts, plain))
def test_turn_spans_lie_within_the_text(text: str) -> None:
    text = normalise_newlines(text)
    check_turns(text, parse_turns(text))


@fixed(100)
@given(st.sampled_from([".txt", ".md", ".vtt", ".srt", ".csv", ".jsonl", ".docx", ".qdpx"]),
       st.one_of(st.binary(max_size=200), transcripts.map(str.encode)))
def test_any_bytes_in_any_transcript_format(suffix: str, data: bytes) -> None:
    check_documents(in_file("file" + suffix, data, read_document))


@fixed(100)
@given(transcripts)
def test_a_text_transcript_is_its_file_text(text: str) -> None:
    documents = in_file("t.txt", text, read_document)
    if documents is not None:
        (document,) = documents
        assert document.text == normalise_newlines(text.removeprefix("\ufeff"))
        check_documents(documents)


# -- subtitles -----------------------------------------------------------------------------------

@fixed(100)
@given(cues, st.booleans())
def test_subtitles_with_any_times_and_text(items: list[tuple[int, int, list[str]]], srt: bool) -> None:
    if srt:
        blocks = [f"{n}\n{times(a).replace('.', ',')} --> {times(b).replace('.', ',')}\n" + "\n".join(lines)
                  for n, (a, b, lines) in enumerate(items, start=1)]
        content = "\n\n".join(blocks) + "\n"
    else:
        content = "WEBVTT\n\n" + "\n\n".join(f"{times(a)} --> {times(b)}\n" + "\n".join(lines)
                                             for a, b, lines in items) + "\n"
    check_documents(in_file("c.srt" if srt else "c.vtt", content, read_document))


srt_pieces = st.lists(st.one_of(
    st.sampled_from(["1", "2", "12.5", "-3", "\n", "\n\n", "\r\n", " ", "\t", "\ufeff", "00:00:01,000", "00:00:0x,000",
                     " --> ", "-->", "00:00:02.500", "1:2:3,4", "X1:40 Y1:80", "<i>", "</i>", "Anna: ", "text"]),
    line_text), max_size=30).map("".join)


def _subtitles(parse: Callable[[str], object], text: str) -> object:
    try:
        return [(s.start, s.end, s.content, s.proprietary) for s in parse(text)]  # type: ignore[attr-defined]
    except srt.SRTParseError as error:
        return ("unparseable block at", error.expected_start)
    except (srt.TimestampParseError, OverflowError) as error:
        return ("time", type(error).__name__)


@fixed(300)
@given(st.one_of(srt_pieces, st.lists(st.tuples(st.integers(0, 4), cue_times, cue_times, line_text), max_size=4).map(
    lambda blocks: "\n\n".join(f"{n}\n{times(a).replace('.', ',')} --> {times(b)}\n{t}" for n, a, b, t in blocks))))
def test_srt_is_read_as_the_srt_library_reads_it(text: str) -> None:
    """parse_srt (linear) finds the subtitles and the errors srt.parse (quadratic on some broken
    files) finds."""
    assert _subtitles(parse_srt, text) == _subtitles(lambda t: list(srt.parse(t)), text)


@fixed(80)
@given(st.lists(st.text("abcdefghijklmnopqrstuvwxyz ,.?", min_size=1, max_size=40).map(str.strip).filter(bool),
                min_size=1, max_size=6), st.booleans())
def test_subtitle_text_is_kept_in_order(texts: list[str], srt: bool) -> None:
    """Cues of plain speech (no speaker, no tag) are the document's lines, in order."""
    if srt:
        content = "\n\n".join(f"{n}\n00:00:{n:02d},000 --> 00:00:{n:02d},500\n{t}" for n, t in enumerate(texts, 1))
    else:
        content = "WEBVTT\n\n" + "\n\n".join(f"00:00:{n:02d}.000 --> 00:00:{n:02d}.500\n{t}"
                                             for n, t in enumerate(texts, 1))
    (document,) = in_file("c.srt" if srt else "c.vtt", content, read_document) or (None,)
    assert document is not None
    assert document.text.split("\n") == texts
    check_documents((document,))


# -- fragment tables -----------------------------------------------------------------------------

fragment_rows = st.lists(
    st.tuples(st.sampled_from(["", "a", "b", "interview 2"]), st.sampled_from(["", "P1", "Mother"]), text_cell,
              st.one_of(text_cell, st.integers().map(str))),
    min_size=1, max_size=8,
)


def _fragments_csv(rows: list[tuple[str, str, str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "document", "speaker", "text", "note"])
    writer.writerows((f"f{i}", *row) for i, row in enumerate(rows))
    return out.getvalue()


def _fragments_jsonl(rows: list[tuple[str, str, str, str]]) -> str:
    return "".join(json.dumps({"id": f"f{i}", "document": d, "speaker": s, "text": t, "note": n}) + "\n"
                   for i, (d, s, t, n) in enumerate(rows))


@fixed(100)
@given(fragment_rows, st.sampled_from([".csv", ".jsonl"]))
def test_fragment_tables_round_trip(rows: list[tuple[str, str, str, str]], suffix: str) -> None:
    """Every row with text is one turn whose span is exactly its text (newlines normalised,
    stripped), in its document, with its id, speaker and extra column."""
    content = _fragments_csv(rows) if suffix == ".csv" else _fragments_jsonl(rows)
    documents = in_file("frags" + suffix, content, read_document)
    expected = {f"f{i}": (d or "frags" + suffix, s or None, normalise_newlines(t).strip(), n)
                for i, (d, s, t, n) in enumerate(rows) if normalise_newlines(t).strip()}
    if not expected:
        assert documents is None  # no fragment with text: refused
        return
    assert documents is not None
    check_documents(documents)
    found = {}
    for document in documents:
        assert document.presegmented
        for turn in document.turns:
            (span,) = turn.spans
            found[turn.fragment_id] = (document.id, turn.speaker, document.text[span.start:span.end],
                                       turn.attributes["note"])
    assert found == expected


@fixed(100)
@given(st.lists(json_values, min_size=1, max_size=5))
def test_json_lines_of_any_value(values: list[object]) -> None:
    content = "\n".join(json.dumps(v) for v in values)
    check_documents(in_file("t.jsonl", content, read_document))


@fixed(100)
@given(st.lists(st.lists(plain, max_size=5), min_size=1, max_size=6), st.sampled_from([",", ";", "\t", "|"]))
def test_csv_of_any_cells(rows: list[list[str]], delimiter: str) -> None:
    content = "\n".join(delimiter.join(row) for row in rows)
    check_documents(in_file("t.csv", content, read_document))


@fixed(60)
@given(st.one_of(st.integers(1, 300), st.integers(900, 100_000)))
def test_json_depth_is_bounded_not_recursive(depth: int) -> None:
    text = "[" * depth + "]" * depth
    try:
        value = load_json(text)
    except JsonProblem as problem:
        assert problem.limit == "MAX_JSON_DEPTH" and depth > limits.MAX_JSON_DEPTH
    else:
        assert json_depth(value) == depth <= limits.MAX_JSON_DEPTH


@fixed(60)
@given(st.lists(st.lists(plain, max_size=4), max_size=5), st.sampled_from(["document", "Document", "doc"]))
def test_metadata_of_any_cells(rows: list[list[str]], column: str) -> None:
    content = "\n".join([f"{column},site"] + [",".join(row) for row in rows])
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "interview.txt").write_text("P1: Hello there.\n", encoding="utf-8")
        (Path(folder) / "metadata.csv").write_text(content, encoding="utf-8")
        reading = read_or_refuse(lambda: read_corpus_report(Path(folder)))
    if reading is not None:
        check_documents(reading.documents)


# -- gold and codings ----------------------------------------------------------------------------

gold_rows = st.lists(st.tuples(text_cell, st.lists(names, max_size=3)), min_size=1, max_size=6)


@fixed(100)
@given(gold_rows, st.sampled_from([".csv", ".jsonl"]))
def test_gold_round_trip(rows: list[tuple[str, list[str]]], suffix: str) -> None:
    if suffix == ".csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "text", "codes"])
        writer.writerows((f"g{i}", text, ";".join(codes)) for i, (text, codes) in enumerate(rows))
        content = out.getvalue()
    else:
        content = "".join(json.dumps({"id": f"g{i}", "text": text, "codes": codes}) + "\n"
                          for i, (text, codes) in enumerate(rows))
    gold = in_file("gold" + suffix, content, read_gold)
    if any(not text.strip() for text, _ in rows):
        assert gold is None  # a fragment without text is refused
        return
    assert gold is not None
    assert [(g.id, g.text, g.codes) for g in gold] == [
        (f"g{i}", text.strip(), tuple(dict.fromkeys(codes))) for i, (text, codes) in enumerate(rows)]


@fixed(100)
@given(st.sampled_from([".csv", ".jsonl", ".tsv"]),
       st.one_of(st.binary(max_size=200), st.lists(json_values, max_size=4).map(
           lambda vs: "\n".join(json.dumps(v) for v in vs).encode())))
def test_gold_of_any_bytes(suffix: str, data: bytes) -> None:
    in_file("gold" + suffix, data, read_gold)


codings = st.lists(st.tuples(names, st.integers(0, 10**6), st.integers(1, 1000), names, names), max_size=6)


@fixed(100)
@given(codings)
def test_codings_csv_round_trip(rows: list[tuple[str, int, int, str, str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["document", "start", "end", "code", "coder"])
    writer.writerows((d, s, s + length, c, who) for d, s, length, c, who in rows)
    read = in_file("c.csv", out.getvalue(), read_codings)
    assert read is not None
    assert read.codings == tuple(Coding(d, s, s + length, c, who) for d, s, length, c, who in rows)


@fixed(100)
@given(st.sampled_from([".csv", ".jsonl", ".qdpx", ".txt"]),
       st.one_of(st.binary(max_size=200),
                 st.lists(st.fixed_dictionaries({"document": json_values, "start": json_values, "end": json_values},
                                                 optional={"codes": json_values, "facets": json_values}),
                          max_size=4).map(lambda rs: "\n".join(json.dumps(r) for r in rs).encode()),
                 st.lists(st.lists(st.one_of(plain, huge.map(str)), min_size=5, max_size=6), max_size=4).map(
                     lambda rs: "\n".join(["document,start,end,code,coder"] + [",".join(r) for r in rs]).encode())))
def test_codings_of_any_content(suffix: str, data: bytes) -> None:
    in_file("codings" + suffix, data, read_codings)


# -- codebooks -----------------------------------------------------------------------------------

@fixed(150)
@given(st.one_of(plain, json_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True))))
def test_codebook_of_any_yaml(text: str) -> None:
    read_or_refuse(lambda: parse_codebook(text))


yaml_scalars = st.one_of(plain, huge, st.floats(), st.booleans(), st.none(),
                         st.sampled_from(["!!python/object:os.system x", "!foo bar", "2024-13-45", "*a", "&a x",
                                          "!!binary abc", "!!timestamp nope", ".nan", "0x" + "f" * 5000]))


@fixed(150)
@given(st.lists(st.dictionaries(st.sampled_from(["id", "name", "parent", "definition", "examples", "codable",
                                                 "threshold", "include", "unknown"]),
                                st.one_of(yaml_scalars, st.lists(yaml_scalars, max_size=3)), max_size=6),
                max_size=4),
       st.dictionaries(st.sampled_from(["threshold", "margin", "name", "facets"]), yaml_scalars, max_size=3))
def test_codebook_with_wrong_values(codes: list[dict[str, object]], top: dict[str, object]) -> None:
    """A codebook skeleton with values of the wrong type or shape, tags and aliases inserted raw."""
    lines = [f"{key}: {value}" for key, value in top.items()] + ["codes:"]
    for code in codes:
        lines.append("  -")
        for key, value in code.items():
            lines.append(f"    {key}: {json.dumps(value) if isinstance(value, list) else value}")
    read_or_refuse(lambda: parse_codebook("\n".join(lines)))


@fixed(30)
@given(st.integers(1, 12), st.integers(2, 9))
def test_yaml_alias_bombs_are_refused_at_once(levels: int, width: int) -> None:
    lines = ['a0: &a0 ["lol"]'] + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * width)}]" for n in range(1, levels)]
    size, total = 2, 1 + 1 + 2  # a0's list and scalar; the root mapping, a0's key
    for _ in range(1, levels):
        size = 1 + width * size
        total += 1 + size
    over = total > limits.MAX_YAML_NODES or (levels - 1) * width > limits.MAX_YAML_ALIASES
    try:
        parse_codebook("\n".join(lines))
    except NlpCoderError as error:
        # Beyond a limit: refused for it, before expanding; else read, and refused as no codebook.
        assert error.code == ("E105" if over else "E110")
    else:
        raise AssertionError("not a codebook")


simple_text = st.text("abcdefghijklmnopqrstuvwxyz ABC,.'?!0123456789", min_size=1, max_size=40).map(
    str.strip).filter(lambda t: bool(t) and not t[0].isdigit() and not t.startswith("-"))
code_ids = st.text("abcdefghijklmnop-", min_size=1, max_size=10).filter(lambda t: t.strip("-") == t)


@st.composite
def codebooks(draw: st.DrawFn) -> Codebook:
    ids = draw(st.lists(code_ids, min_size=1, max_size=5, unique=True))
    codes = []
    for position, code_id in enumerate(ids):
        parent = draw(st.sampled_from([None, *ids[:position]]))
        codes.append(Code(id=code_id, name=draw(simple_text), definition=draw(simple_text), parent=parent,
                          examples=tuple(draw(st.lists(simple_text, max_size=3))),
                          counterexamples=tuple(draw(st.lists(simple_text, max_size=2))),
                          threshold=draw(st.one_of(st.none(), st.floats(-1, 1).map(lambda x: round(x, 3))))))
    return Codebook(name=draw(simple_text), description="", codes=tuple(codes), facets=())


def _essentials(book: Codebook) -> list[tuple[object, ...]]:
    return [(c.id, c.name, c.definition, c.parent, c.examples, c.counterexamples, c.codable, c.threshold)
            for c in book.codes]


@fixed(60)
@given(codebooks())
def test_codebook_yaml_round_trip(book: Codebook) -> None:
    back = parse_codebook(codebook_to_yaml(book))
    assert _essentials(back) == _essentials(book)


any_text = st.lists(st.one_of(st.sampled_from(list("\x85\u2028\u2029\n\t'\":#-&*!|>%@` ")), st.text(max_size=4)),
                    min_size=1, max_size=8).map(lambda parts: "".join(parts).strip()).filter(bool)


@fixed(100)
@given(st.lists(st.tuples(any_text, any_text, st.lists(any_text, max_size=2)), min_size=1, max_size=3))
def test_codebook_yaml_round_trip_of_any_text(codes: list[tuple[str, str, list[str]]]) -> None:
    """Names, definitions and quotes with any characters (line separators, NEL, control
    characters, quotes, YAML syntax) come back unchanged from codebook convert's YAML."""
    book = Codebook(name="any", description="", facets=(), codes=tuple(
        Code(id=f"c{i}", name=name, definition=definition, examples=tuple(examples))
        for i, (name, definition, examples) in enumerate(codes)))
    assert _essentials(parse_codebook(codebook_to_yaml(book))) == _essentials(book)


@fixed(40)
@given(codebooks())
def test_codebook_qdc_round_trip(book: Codebook) -> None:
    back = in_file("book.qdc", render_qdc(book), load_codebook)
    assert back is not None
    assert sorted(_essentials(back)) == sorted(_essentials(book))  # children follow their parent there


# -- REFI-QDA ------------------------------------------------------------------------------------

attribute = st.one_of(plain.map(lambda t: t.replace("\x00", "")), huge.map(str), st.sampled_from(["", "-1", "1e9"]))
xml_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=40)


@st.composite
def code_elements(draw: st.DrawFn, depth: int = 0) -> str:
    attributes = draw(st.dictionaries(st.sampled_from(["guid", "name", "isCodable", "color"]), attribute,
                                      max_size=4))
    inner = "".join(draw(st.lists(code_elements(depth + 1), max_size=2))) if depth < 3 else ""
    description = draw(st.one_of(st.just(""), xml_text.map(lambda t: f"<Description>{escape(t)}</Description>")))
    attrs = " ".join(f"{k}={quoteattr(v)}" for k, v in attributes.items())
    return f"<Code {attrs}>{description}{inner}</Code>"


@fixed(60)
@given(st.lists(code_elements(), max_size=4), st.integers(0, 150))
def test_qdc_of_any_code_tree(codes: list[str], depth: int) -> None:
    nested = '<Code guid="n" name="n">' * depth + "</Code>" * depth
    content = f'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>{"".join(codes)}{nested}</Codes></CodeBook>'
    in_file("c.qdc", content, read_qdc)
    in_file("c.qdc", content, load_codebook)


@st.composite
def qde_projects(draw: st.DrawFn) -> str:
    sources = []
    for n in range(draw(st.integers(0, 3))):
        selections = "".join(
            f'<PlainTextSelection startPosition={quoteattr(draw(attribute))} endPosition={quoteattr(draw(attribute))}'
            f' creatingUser="u"><Coding creatingUser="u"><CodeRef targetGUID={quoteattr(draw(attribute))}/>'
            "</Coding></PlainTextSelection>" for _ in range(draw(st.integers(0, 3))))
        body = draw(st.sampled_from(["inline", "path", "none"]))
        text = f"<PlainTextContent>{escape(draw(xml_text))}</PlainTextContent>" if body == "inline" else ""
        where = f' plainTextPath={quoteattr("internal://" + draw(attribute))}' if body == "path" else ""
        sources.append(f'<TextSource guid="s{n}" name={quoteattr(draw(attribute))}{where}>{text}{selections}'
                       "</TextSource>")
    codes = "".join(draw(st.lists(code_elements(), max_size=3)))
    return ('<Project xmlns="urn:QDA-XML:project:1.0" name="p"><Users><User guid="u" name="ann"/></Users>'
            f"<CodeBook><Codes>{codes}</Codes></CodeBook><Sources>{''.join(sources)}</Sources></Project>")


@fixed(60)
@given(qde_projects(), st.dictionaries(st.sampled_from(["sources/a.txt", "Sources/s0.txt", "../x", "project.qde"]),
                                       st.binary(max_size=60), max_size=2))
def test_qdpx_of_any_project(qde: str, extra: dict[str, bytes]) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", qde)
        for name, data in extra.items():
            if name != "project.qde":
                archive.writestr(name, data)
    project = in_file("p.qdpx", out.getvalue(), read_qdpx)
    if project is not None:
        check_documents(project.documents)
        lengths = {d.id: len(d.text) for d in project.documents}
        for coding in project.codings:
            assert 0 <= coding.start <= coding.end <= lengths[coding.document]
    in_file("p.qdpx", out.getvalue(), read_document)
    in_file("p.qdpx", out.getvalue(), read_codings)
    in_file("p.qdpx", out.getvalue(), load_codebook)
