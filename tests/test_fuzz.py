"""Fuzzing: mutated inputs of every reader raise only NlpCoderError, and none hangs.

The mutations and targets are in ``fuzzing.py``; ``python -m benchmarks.fuzz --cases 10000`` runs
the same cases, many more of them (case ``i`` is the same case in both).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fuzzing import TARGET_NAMES, Hang, Target, build_targets, case_rng, describe, mutate, run, run_case, run_reader

from nlp_coder.errors import CATALOGUE

CASES = 540
"""Cases in the test run: 30 per target (the benchmark runs 10,000 and more)."""
TIMEOUT = 10.0
"""Seconds a case may run before it fails as a hang (the slowest case takes about 1 s)."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def targets(folder: Path) -> list[Target]:
    return build_targets(folder)


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_mutated_inputs_raise_only_nlp_coder_errors(name: str, targets: list[Target], folder: Path) -> None:
    summary = run(range(CASES), folder, timeout=TIMEOUT, targets=targets, names=[name])
    assert len(summary.outcomes) == CASES // len(targets)
    failures = summary.failures
    first = describe(failures[0]) if failures else ""
    assert not failures, f"{len(failures)} of {len(summary.outcomes)} cases failed; the first:\n{first}"
    for outcome in summary.outcomes:
        if outcome.status == "refused":
            assert outcome.code in CATALOGUE and outcome.code.startswith("E1"), outcome
            assert "\n" not in outcome.detail, outcome  # one line


def test_every_target_reads_its_unmutated_input(targets: list[Target], folder: Path) -> None:
    for target in targets:
        path = folder / "valid" / target.name / f"{target.name}{target.suffix}"
        path.parent.mkdir(parents=True)
        path.write_bytes(target.seed)
        target.read(path)  # raises if the starting point is not valid input


def test_cases_are_reproducible(targets: list[Target]) -> None:
    for case in (0, 7, 123):
        target = targets[case % len(targets)]
        first = mutate(target, case_rng(0, target, case))
        assert first == mutate(target, case_rng(0, target, case))
    assert mutate(targets[0], case_rng(0, targets[0], 0)) != mutate(targets[0], case_rng(1, targets[0], 0))


def test_a_crash_and_a_hang_are_reported(folder: Path) -> None:
    """The harness itself: an exception that is not NlpCoderError is a crash; a reader still
    running after the timeout is a hang."""
    def crash(path: Path) -> None:
        raise ValueError("boom")

    def hang(path: Path) -> None:
        while True:
            pass

    crashing = [Target("crashing", ".txt", b"x", crash)]
    hanging = [Target("hanging", ".txt", b"x", hang)]
    crashed = run_case(crashing, 0, folder, timeout=TIMEOUT)
    assert crashed.status == "crash" and crashed.code == "ValueError" and "boom" in crashed.detail
    hung = run_case(hanging, 0, folder, timeout=0.2)
    assert hung.status == "hang" and 0.2 <= hung.seconds < 2
    assert issubclass(Hang, BaseException) and not issubclass(Hang, Exception)


# -- the crashes and hangs fuzzing found, one by one -------------------------------------------------

def _docx_with(folder: Path, *, method: int | None = None, part: bytes | None = None) -> Path:
    """The fuzzing .docx, with every member's compression method set to ``method`` in the headers,
    or its ``word/document.xml`` replaced by ``part``."""
    import io
    import struct
    import zipfile

    from fuzzing import _docx

    data = _docx()
    if part is not None:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [(i.filename, archive.read(i)) for i in archive.infolist()]
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in members:
                archive.writestr(name, part if name == "word/document.xml" else content)
        data = out.getvalue()
    if method is not None:
        patched = bytearray(data)
        for signature, offset in ((b"PK\x01\x02", 10), (b"PK\x03\x04", 8)):
            start = patched.find(signature)
            while start >= 0:
                struct.pack_into("<H", patched, start + offset, method)
                start = patched.find(signature, start + 4)
        data = bytes(patched)
    path = folder / "t.docx"
    path.write_bytes(data)
    return path


def _qdpx_with(folder: Path, **options: object) -> Path:
    from refi_projects import make_qdpx

    return make_qdpx(folder / "p.qdpx", **options)  # type: ignore[arg-type]


_BOMB = "\n".join(['a0: &a0 ["lol"]'] + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)])
_DTD = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'

KNOWN: dict[str, tuple[str, Callable[[Path], Path], str]] = {
    "srt time overflowing a timedelta": ("E103", lambda d: _write(
        d / "t.srt", "1\n99999999999999999:00:00,000 --> 99999999999999999:00:01,000\nhi\n"), "document"),
    "srt whitespace run in a broken block": ("E103", lambda d: _write(
        d / "t.srt", "1\n00:00:00,000 --> 00:00:01,000\nhi\n\n2\n00:00:02,000 --> 00:00" + "\t" * 50_000
        + ":03,000\nx\n"),
        "document"),
    "docx packed with Deflate64": ("E104", lambda d: _docx_with(d, method=9), "document"),
    "docx packed with AES": ("E104", lambda d: _docx_with(d, method=99), "document"),
    "docx part declaring entities": ("E105", lambda d: _docx_with(d, part=_DTD), "document"),
    "docx part in an unknown encoding": ("E102", lambda d: _docx_with(
        d, part=b'<?xml version="1.0" encoding="UTB-8"?><x/>'), "document"),
    "jsonl nested 100,000 deep": ("E105", lambda d: _write(d / "t.jsonl", '{"text": ' + "[" * 100_000 + "\n"),
                                  "document"),
    "jsonl integer of 5,000 digits": ("E103", lambda d: _write(d / "t.jsonl", '{"text": ' + "9" * 5000 + "}\n"),
                                      "document"),
    "yaml python tag": ("E110", lambda d: _write(d / "c.yaml", "name: !!python/object:os.system x\ncodes: []\n"),
                        "codebook"),
    "yaml impossible date": ("E110", lambda d: _write(d / "c.yaml", "name: 2024-13-45\ncodes: []\n"), "codebook"),
    "yaml empty timestamp": ("E110", lambda d: _write(d / "c.yaml", "name: !!timestamp ''\ncodes: []\n"), "codebook"),
    "yaml alias bomb": ("E105", lambda d: _write(d / "c.yaml", _BOMB), "codebook"),
    "yaml alias inside itself": ("E110", lambda d: _write(d / "c.yaml", "codes: &a [*a]\n"), "codebook"),
    "yaml list as a key": ("E110", lambda d: _write(d / "c.yaml", "? [a, b]\n: x\ncodes: []\n"), "codebook"),
    "codings csv with an unclosed quote": ("E105", lambda d: _write(
        d / "c.csv", 'document,start,end,code,coder\nd,0,5,"a' + "x" * 200_000 + "\n"), "codings"),
    "suggest jsonl start of 1e999": ("E120", lambda d: _write(
        d / "s.jsonl", '{"document": "d", "start": 1e999, "end": 2, "codes": []}\n'), "codings"),
    "suggest jsonl code that is not text": ("E120", lambda d: _write(
        d / "s.jsonl", '{"document": "d", "start": 0, "end": 2, "codes": [{"a": 1}]}\n'), "codings"),
    "gold csv with an unclosed quote": ("E105", lambda d: _write(
        d / "g.csv", 'id,text,codes\n1,"' + "x" * 200_000 + "\n"), "gold"),
    "gold jsonl nested 100,000 deep": ("E105", lambda d: _write(d / "g.jsonl", "[" * 100_000), "gold"),
    "qdc codes nested 5,000 deep": ("E105", lambda d: _write(
        d / "c.qdc", '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>' + '<Code guid="g" name="n">' * 5000
        + "</Code>" * 5000 + "</Codes></CodeBook>"), "codebook"),
    "qdpx source in broken UTF-16": ("E120", lambda d: _qdpx_with(
        d, extra_members={"sources/01106019-2518-43DD-BBD1-8F0252BACB30.txt": b"\xff\xfeA"}), "qdpx"),
    "qdpx project declaring entities": ("E105", lambda d: _qdpx_with(d, qde_override=_DTD), "qdpx"),
    "qdpx zip bomb": ("E105", lambda d: _qdpx_with(d, extra_members={"sources/bomb.txt": b"\0" * (20 * 2**20)}),
                      "qdpx"),
    "qdpx with unclosed PlainTextContent tags": ("E120", lambda d: _qdpx_with(
        d, qde_override=b"<Project>\r\n" + b"<PlainTextContent>" * 30_000), "qdpx"),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _reader(kind: str) -> Callable[[Path], object]:
    from nlp_coder.codebook import load_codebook
    from nlp_coder.readers import read_document
    from nlp_coder.readers.gold import read_gold
    from nlp_coder.refi import read_codings, read_qdpx

    return {"document": read_document, "codebook": load_codebook, "codings": read_codings, "gold": read_gold,
            "qdpx": read_qdpx}[kind]


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_inputs_that_crashed_or_hung_are_refused_with_their_code(name: str, tmp_path: Path) -> None:
    code, make, kind = KNOWN[name]
    outcome = run_reader(_reader(kind), make(tmp_path), timeout=TIMEOUT)
    assert (outcome.status, outcome.code) == ("refused", code), describe(outcome)
