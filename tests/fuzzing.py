"""Seeded mutation fuzzing of every reader (shared by ``tests/test_fuzz.py`` and
``benchmarks/fuzz.py``).

Each *target* is a reader entry point with a valid input to start from: the bundled corpus,
codebook and pilot codings, and small fragment tables, gold files, a suggest JSONL, a ``.docx``,
a ``.qdpx`` and a ``.qdc`` built here. Case ``i`` mutates the input of target ``i % len(targets)``
with a :class:`random.Random` seeded from ``(seed, target, i)``, so any case can be replayed on
its own, and the first ``n`` cases of a long run are the cases of a short one.

The mutations: byte flips and random bytes, truncation, deleted, duplicated and swapped chunks,
deep nesting (JSON, YAML, XML, Markdown quotes), huge numbers and times, invalid UTF-8, NULs and
byte-order marks, long lines, YAML tags, anchors and alias bombs, XML DTDs and entities; for zip
archives (.docx, .qdpx) also the archive itself: a member's bytes mutated and repacked,
compression methods zipfile cannot unpack (Deflate64, PPMd, AES), encryption flags, lying sizes,
a zip bomb, many members, unsafe and duplicate names, a member left out.

A case passes when the reader returns or raises :class:`~nlp_coder.errors.NlpCoderError`; any
other exception is a crash, and a case still running after ``timeout`` seconds is a hang (a
SIGALRM timer stops it with :class:`Hang`, which no ``except Exception`` can swallow).
"""

from __future__ import annotations

import io
import json
import random
import signal
import struct
import sys
import time
import traceback
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nlp_coder.errors import NlpCoderError

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
if str(TESTS) not in sys.path:  # refi_projects, when imported from benchmarks/
    sys.path.insert(0, str(TESTS))

DEFAULT_TIMEOUT = 10.0
"""Seconds a case may run before it counts as a hang."""
MAX_INPUT_BYTES = 2 * 1024 * 1024
"""Mutated inputs are cut to this size: big enough for any quadratic step to show as a hang, small
enough that reading a valid-looking input at the readers' ordinary (linear) speed stays well
inside the timeout. Zip bombs, which are small on disk, unpack beyond it."""


class Hang(BaseException):  # noqa: N818 - not an error the library could raise or catch
    """Raised in a case that outran its time (a BaseException: no reader's handler catches it)."""


@dataclass(frozen=True)
class Target:
    """A reader entry point and the valid input its cases mutate.

    ``read`` gets the path of the mutated file, always named ``name`` + ``suffix`` in the case's
    folder; ``archive`` marks a zip file (its members are mutated too).
    """

    name: str
    suffix: str
    seed: bytes
    read: Callable[[Path], object]
    archive: bool = False


@dataclass(frozen=True)
class Outcome:
    """How one case ended: ``accepted`` (read), ``refused`` (NlpCoderError, with its code),
    ``crash`` (another exception, with its traceback) or ``hang``."""

    target: str
    case: int
    status: str
    seconds: float
    code: str = ""
    detail: str = ""
    mutations: tuple[str, ...] = ()


@dataclass
class Summary:
    """The outcomes of a run, counted."""

    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in ("crash", "hang")]

    def codes(self) -> Counter[str]:
        return Counter(o.code for o in self.outcomes if o.status == "refused")

    def slowest(self) -> Outcome | None:
        return max(self.outcomes, key=lambda o: o.seconds, default=None)


# -- targets ------------------------------------------------------------------------------------

def _read_document(path: Path) -> object:
    from nlp_coder.readers import read_document

    return read_document(path)


def _read_codebook(path: Path) -> object:
    from nlp_coder.codebook import load_codebook

    return load_codebook(path)


def _read_codings(path: Path) -> object:
    from nlp_coder.refi import read_codings

    return read_codings(path)


def _read_gold(path: Path) -> object:
    from nlp_coder.readers.gold import read_gold

    return read_gold(path)


def _read_qdc(path: Path) -> object:
    from nlp_coder.refi import read_qdc

    read_qdc(path)
    return _read_codebook(path)


def _read_qdpx(path: Path) -> object:
    from nlp_coder.refi import read_qdpx

    return read_qdpx(path)


def _read_metadata(path: Path) -> object:
    """metadata.csv beside one transcript, read as a corpus folder."""
    from nlp_coder.readers import read_corpus_report

    transcript = path.parent / "interview-01.txt"
    if not transcript.exists():
        transcript.write_bytes((REPO / "corpus" / "interview-01.txt").read_bytes())
    return read_corpus_report(path.parent)


_FRAGMENTS = (
    ("f1", "interview-01", "P1", "She helped me fill in the forms for housing.", "north"),
    ("f2", "interview-01", "P1", 'She said "we will sort it", and she did.', "north"),
    ("f3", "interview-02", "Father", "He listened carefully; he took notes.", "south"),
    ("f4", "interview-02", "Father", "The waiting room was warm\nand stuffy.", "south"),
)
_GOLD = (
    ("g1", "She helped me fill in the forms for housing.", "support"),
    ("g2", "She was warm and kind to my kids.", "warmth;listening"),
    ("g3", "The bus was late again so I walked.", ""),
)


def _fragments_csv() -> bytes:
    out = io.StringIO()
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "document", "speaker", "text", "site"])
    writer.writerows(_FRAGMENTS)
    return out.getvalue().encode("utf-8")


def _fragments_jsonl() -> bytes:
    rows = [{"id": i, "document": d, "speaker": s, "text": t, "site": x, "tags": [x, {"n": 1}]}
            for i, d, s, t, x in _FRAGMENTS]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _gold_csv() -> bytes:
    lines = ["id,text,codes,document"] + [f'{i},"{t}",{c},doc' for i, t, c in _GOLD]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _gold_jsonl() -> bytes:
    rows = [{"id": i, "text": t, "codes": [c for c in codes.split(";") if c], "context": "Before."}
            for i, t, codes in _GOLD]
    return "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")


def _suggest_jsonl() -> bytes:
    rows = [{"document": "d", "start": 0, "end": 12, "status": "coded", "codes": ["support"],
             "facets": {"valence": {"codes": ["positive"]}}},
            {"document": "d", "start": 13, "end": 40, "status": "uncoded", "codes": [], "facets": {}}]
    return "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")


def _docx() -> bytes:
    import docx

    word = docx.Document()
    word.add_heading("Interview 3, 12 May", level=1)
    word.add_paragraph("Interviewer: How did the assessment go?")
    word.add_paragraph("Mother: She helped me fill in the forms. She was warm and kind.")
    table = word.add_table(rows=3, cols=2)
    for row, (speaker, text) in zip(table.rows, [("Speaker", "Text"), ("I", "And after?"),
                                                 ("Mother", "She listened to what I said.")]):
        row.cells[0].text, row.cells[1].text = speaker, text
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


def _qdpx(folder: Path) -> bytes:
    from refi_projects import make_qdpx

    return make_qdpx(folder / "seed.qdpx", crlf=True).read_bytes()


def _qdc() -> bytes:
    from nlp_coder.codebook import parse_codebook
    from nlp_coder.refi import render_qdc

    text = (REPO / "codebooks" / "working-alliance.yaml").read_text(encoding="utf-8")
    return render_qdc(parse_codebook(text)).encode("utf-8")


TARGET_NAMES = (
    "transcript-txt", "transcript-md", "captions-vtt", "captions-srt", "word-docx", "fragments-csv",
    "fragments-jsonl", "metadata", "codebook-yaml", "codings-csv", "codings-suggest-jsonl", "gold-csv",
    "gold-jsonl", "refi-qdc", "refi-qdpx", "refi-qdpx-corpus", "refi-qdpx-codebook", "refi-qdpx-codings",
)
"""The targets' names, in order (case ``i`` mutates the input of target ``i % len(TARGET_NAMES)``)."""


def build_targets(folder: Path) -> list[Target]:
    """The targets, with their valid inputs (``folder`` holds the files built on the way)."""
    targets = _targets(folder)
    assert tuple(t.name for t in targets) == TARGET_NAMES
    return targets


def _targets(folder: Path) -> list[Target]:
    corpus = REPO / "corpus"
    return [
        Target("transcript-txt", ".txt", (corpus / "interview-01.txt").read_bytes(), _read_document),
        Target("transcript-md", ".md", (corpus / "interview-04.md").read_bytes(), _read_document),
        Target("captions-vtt", ".vtt", (corpus / "interview-07.vtt").read_bytes(), _read_document),
        Target("captions-srt", ".srt", (corpus / "interview-08.srt").read_bytes(), _read_document),
        Target("word-docx", ".docx", _docx(), _read_document, archive=True),
        Target("fragments-csv", ".csv", _fragments_csv(), _read_document),
        Target("fragments-jsonl", ".jsonl", _fragments_jsonl(), _read_document),
        Target("metadata", ".csv", (corpus / "metadata.csv").read_bytes(), _read_metadata),
        Target("codebook-yaml", ".yaml", (REPO / "codebooks" / "working-alliance.yaml").read_bytes(),
               _read_codebook),
        Target("codings-csv", ".csv", (REPO / "docs" / "examples" / "pilot-codings.csv").read_bytes(),
               _read_codings),
        Target("codings-suggest-jsonl", ".jsonl", _suggest_jsonl(), _read_codings),
        Target("gold-csv", ".csv", _gold_csv(), _read_gold),
        Target("gold-jsonl", ".jsonl", _gold_jsonl(), _read_gold),
        Target("refi-qdc", ".qdc", _qdc(), _read_qdc),
        Target("refi-qdpx", ".qdpx", _qdpx(folder), _read_qdpx, archive=True),
        Target("refi-qdpx-corpus", ".qdpx", _qdpx(folder), _read_document, archive=True),
        Target("refi-qdpx-codebook", ".qdpx", _qdpx(folder), _read_codebook, archive=True),
        Target("refi-qdpx-codings", ".qdpx", _qdpx(folder), _read_codings, archive=True),
    ]


# -- mutations ----------------------------------------------------------------------------------

_SIZES = (10, 100, 1_000, 10_000, 100_000)
_TOKENS: tuple[bytes, ...] = (
    b"\x00", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b"\x80", b"\r", b"\r\n", b"\n\n", b"\xe2\x80\xa8", b"\xc2\x85", b"\x0b\x0c\x1c", b'"', b"'", b",", b";",
    b"\t", b":", b"-->", b" --> ", b"WEBVTT", b"<v Mother>", b"</v>", b"<i>", b"&amp;", b"&#0;", b"&#xD800;",
    b"Interviewer:", b"P1:", b"**R:**", b"[00:00:01]", b"# ", b"---", b"> ", b"NaN", b"-Infinity", b"null",
    b"true", b"1e999999", b"-1e-999999", b"9" * 5000, b"-" + b"9" * 400, b"0x" + b"f" * 300,
    b"99999999999999999999:00:00,000", b"00:00:00,000 --> 99999999999999999999:00:00,000",
    b"999999999:59:59.999", b"2024-13-45", b"2024-02-30 25:61:61", b"!!python/object:os.system ",
    b"!!binary ", b"!foo ", b"!!set ", b"&a ", b"*a", b"<<: *a", b"? ", b"{", b"}", b"[", b"]",
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>', b'<!ENTITY e SYSTEM "file:///etc/passwd">',
    b"&e;", b"<![CDATA[", b"]]>", b"<?xml version='1.0'?>", b"</", b"/>", b'startPosition="-5"',
    b'endPosition="99999999999999999999999"', b'plainTextPath="internal://nothing.txt"',
    b'plainTextPath="file:///etc/passwd"', b"internal://../../x.txt",
)


def _nesting(rng: random.Random) -> bytes:
    """A deeply nested fragment in one of the formats the readers parse."""
    depth = rng.choice(_SIZES)
    shapes = [
        lambda: b"[" * depth + b"]" * rng.choice((0, depth)),
        lambda: b'{"a":' * depth + b"1" + b"}" * rng.choice((0, depth)),
        lambda: b"".join(b"  " * i + b"- \n" for i in range(min(depth, 2000))),
        lambda: b"".join(b"  " * i + b"a:\n" for i in range(min(depth, 2000))),
        lambda: b"<a>" * depth + b"</a>" * rng.choice((0, depth)),
        lambda: b'<Code guid="x" name="y">' * depth + b"</Code>" * rng.choice((0, depth)),
        lambda: b"> " * depth + b"P1: yes",
        lambda: b"*" * depth,
    ]
    return rng.choice(shapes)()


def _alias_bomb(rng: random.Random) -> bytes:
    """YAML whose aliases expand exponentially ("billion laughs"), or refer to themselves."""
    if rng.random() < 0.2:
        return b"codes: &a [*a]\n"
    width, levels = rng.choice((2, 5, 9)), rng.choice((5, 9, 20))
    lines = [b'a0: &a0 ["lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * width)}]".encode() for n in range(1, levels)]
    return b"\n".join(lines) + b"\n"


def _chunk(data: bytes, rng: random.Random) -> tuple[int, int]:
    if not data:
        return 0, 0
    start = rng.randrange(len(data))
    return start, min(len(data), start + rng.choice((1, 4, 16, 64, 512, 4096)))


_STRUCTURE = b":,[{<>\n"


def _position(data: bytes, rng: random.Random) -> int:
    """Where to insert: anywhere, or (half the time) just after a structural character, where an
    insertion changes the structure rather than the text of a value."""
    if data and rng.random() < 0.5:
        start = rng.randrange(len(data))
        found = [data.find(bytes([c]), start) for c in _STRUCTURE]
        found = [f for f in found if f >= 0]
        if found:
            return min(found) + 1
    return rng.randrange(len(data) + 1)


def _mutate_bytes(data: bytes, rng: random.Random, log: list[str]) -> bytes:
    """One mutation of a byte string."""
    kind = rng.choice(("flip", "random", "truncate", "delete", "duplicate", "repeat", "swap", "token",
                       "token", "nesting", "long-line", "alias-bomb", "newlines"))
    log.append(kind)
    size = len(data)
    position = _position(data, rng)
    if kind == "flip" and size:
        out = bytearray(data)
        for _ in range(rng.choice((1, 2, 8, 32))):
            out[rng.randrange(size)] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == "random" and size:
        out = bytearray(data)
        for _ in range(rng.choice((1, 4, 16))):
            out[rng.randrange(size)] = rng.randrange(256)
        return bytes(out)
    if kind == "truncate":
        return data[:position]
    if kind == "delete":
        start, end = _chunk(data, rng)
        return data[:start] + data[end:]
    if kind == "duplicate":
        start, end = _chunk(data, rng)
        return data[:end] + data[start:end] * rng.choice((1, 2, 10, 100)) + data[end:]
    if kind == "repeat":
        return data * rng.choice((2, 4, 16))
    if kind == "swap":
        (a, b), (c, d) = sorted((_chunk(data, rng), _chunk(data, rng)))
        if b <= c:
            return data[:a] + data[c:d] + data[b:c] + data[a:b] + data[d:]
        return data
    if kind == "token":
        return data[:position] + rng.choice(_TOKENS) + data[position:]
    if kind == "nesting":
        return data[:position] + _nesting(rng) + data[position:]
    if kind == "long-line":
        return data[:position] + rng.choice((b"a", b"a ", b":", b'"', b",", b"\t", b"[00:00:01] ")) * rng.choice(
            (1_000, 100_000, 1_000_000)) + data[position:]
    if kind == "alias-bomb":
        return _alias_bomb(rng) + data if rng.random() < 0.5 else data[:position] + _alias_bomb(rng)
    if kind == "newlines":
        return data.replace(b"\n", rng.choice((b"\r", b"\r\n", b"\n\n", b"\xe2\x80\xa8", b"")))
    return data


def mutate_text(data: bytes, rng: random.Random) -> tuple[bytes, tuple[str, ...]]:
    """One to four byte mutations; the names of those applied."""
    log: list[str] = []
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        data = _mutate_bytes(data, rng, log)[:MAX_INPUT_BYTES]
    return data, tuple(log)


_CENTRAL, _LOCAL = b"PK\x01\x02", b"PK\x03\x04"


def _patch_headers(data: bytes, rng: random.Random, log: list[str]) -> bytes:
    """Change one field of the zip headers in place: method, flags or sizes."""
    out = bytearray(data)
    central = [i for i in range(len(out)) if out.startswith(_CENTRAL, i)]
    local = [i for i in range(len(out)) if out.startswith(_LOCAL, i)]
    if not central:
        return data
    field_name = rng.choice(("method", "encrypted", "file-size", "compress-size", "name-length"))
    log.append(f"header-{field_name}")
    chosen = rng.sample(range(len(central)), k=rng.choice((1, len(central))))
    for index in chosen:
        c = central[index]
        l_ = local[index] if index < len(local) else None
        if field_name == "method":
            method = rng.choice((9, 98, 99, 10, 12, 14, 93, 95, 1234))
            struct.pack_into("<H", out, c + 10, method)
            if l_ is not None and rng.random() < 0.7:
                struct.pack_into("<H", out, l_ + 8, method)
        elif field_name == "encrypted":
            struct.pack_into("<H", out, c + 8, struct.unpack_from("<H", out, c + 8)[0] | 1)
        elif field_name == "file-size":
            struct.pack_into("<I", out, c + 24, rng.choice((0, 1, 2**31, 2**32 - 1)))
        elif field_name == "compress-size":
            struct.pack_into("<I", out, c + 20, rng.choice((0, 1, 2**32 - 1)))
        else:
            struct.pack_into("<H", out, c + 28, rng.choice((0, 1, 2**16 - 1)))
    return bytes(out)


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def _pack(members: Iterable[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", method) as archive:
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=method)
    return out.getvalue()


def mutate_archive(data: bytes, rng: random.Random) -> tuple[bytes, tuple[str, ...]]:
    """A mutation of a zip archive: of its bytes, of a member's bytes (repacked), or of its shape."""
    log: list[str] = []
    kind = rng.choice(("bytes", "member", "member", "member", "headers", "headers", "bomb", "many",
                       "names", "drop", "stored"))
    members = _members(data)
    if kind == "bytes":
        return mutate_text(data, rng)
    if kind == "member":
        index = rng.randrange(len(members))
        name, content = members[index]
        mutated, applied = mutate_text(content, rng)
        members[index] = (name, mutated)
        return _pack(members), ("member " + name, *applied)
    if kind == "headers":
        packed = data if rng.random() < 0.5 else _pack(members)
        return _patch_headers(packed, rng, log), tuple(log)
    if kind == "bomb":  # one member that unpacks to far more than it packs
        size = rng.choice((2 * 2**20, 20 * 2**20))
        name = rng.choice(("bomb.bin", members[0][0]))
        members = [(n, c) for n, c in members if n != name] + [(name, b"\0" * size)]
        return _pack(members), (f"bomb {size}",)
    if kind == "many":
        count = rng.choice((100, 25_000))
        extra = [(f"junk/{i}.txt", b"") for i in range(count)]
        return _pack(members + extra, zipfile.ZIP_STORED), (f"many {count}",)
    if kind == "names":
        index = rng.randrange(len(members))
        name, content = members[index]
        new = rng.choice(("../" + name, "/" + name, name.upper(), name.replace("/", "\\"), name + "/", ""))
        members.insert(index, (new or "x", content)) if rng.random() < 0.5 else members.__setitem__(
            index, (new or "x", content))
        return _pack(members), (f"name {new!r}",)
    if kind == "drop":
        index = rng.randrange(len(members))
        dropped = members.pop(index)[0]
        return _pack(members), (f"drop {dropped}",)
    return _pack(members, zipfile.ZIP_STORED), ("stored",)


def mutate(target: Target, rng: random.Random) -> tuple[bytes, tuple[str, ...]]:
    """The input of one case for a target."""
    if target.archive and rng.random() < 0.8:
        return mutate_archive(target.seed, rng)
    return mutate_text(target.seed, rng)


# -- running ------------------------------------------------------------------------------------

def case_rng(seed: int, target: Target, case: int) -> random.Random:
    return random.Random(f"{seed}:{target.name}:{case}")


def case_input(targets: list[Target], case: int, seed: int = 0) -> tuple[Target, bytes, tuple[str, ...]]:
    """Case number ``case``: its target, its input, and the mutations that made it."""
    target = targets[case % len(targets)]
    data, applied = mutate(target, case_rng(seed, target, case))
    return target, data, applied


def _on_alarm(signum: int, frame: object) -> None:
    raise Hang()


def run_case(targets: list[Target], case: int, folder: Path, *, seed: int = 0,
             timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """Run one case in ``folder`` (its input is written there), within ``timeout`` seconds."""
    target, data, applied = case_input(targets, case, seed)
    work = folder / target.name
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{target.name}{target.suffix}"
    path.write_bytes(data)
    outcome = run_reader(target.read, path, timeout=timeout)
    return Outcome(target.name, case, outcome.status, outcome.seconds, outcome.code, outcome.detail, applied)


def run_reader(read: Callable[[Path], object], path: Path, *, timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """Read one file within ``timeout`` seconds: how it ended (``target`` is the file's name)."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    started = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        try:
            read(path)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        status, code, detail = "accepted", "", ""
    except NlpCoderError as error:
        status, code, detail = "refused", getattr(error, "code", ""), str(error)
    except Hang:
        status, code, detail = "hang", "", f"still running after {timeout:g} s"
    except BaseException as error:  # noqa: BLE001 - a crash is what this looks for
        if isinstance(error, KeyboardInterrupt):
            raise
        status, code, detail = "crash", type(error).__name__, traceback.format_exc()
    finally:
        signal.signal(signal.SIGALRM, previous)
    return Outcome(path.name, -1, status, time.perf_counter() - started, code, detail)


def run(cases: Iterable[int], folder: Path, *, seed: int = 0, timeout: float = DEFAULT_TIMEOUT,
        targets: list[Target] | None = None, names: Iterable[str] = (),
        progress: Callable[[Outcome], None] | None = None) -> Summary:
    """Run cases (numbers) in ``folder``; ``names`` limits them to those targets."""
    targets = targets or build_targets(folder)
    wanted = set(names)
    summary = Summary()
    for case in cases:
        if wanted and targets[case % len(targets)].name not in wanted:
            continue
        outcome = run_case(targets, case, folder, seed=seed, timeout=timeout)
        summary.add(outcome)
        if progress is not None:
            progress(outcome)
    return summary


def describe(outcome: Outcome) -> str:
    """A failure as text: the case, how to replay it, and the traceback."""
    return (f"case {outcome.case} ({outcome.target}, mutations: {', '.join(outcome.mutations)}): "
            f"{outcome.status} after {outcome.seconds:.2f} s; replay: python -m benchmarks.fuzz --case "
            f"{outcome.case}\n{outcome.detail}")
