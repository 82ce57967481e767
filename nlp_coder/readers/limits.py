"""Safety limits of the readers, and the checks shared by every reader that applies them.

No input, however malformed, may hang a run or exhaust memory: each reader checks the size of
what it reads, the nesting of JSON and YAML, the expansion of YAML aliases and the contents of
zip archives against the limits below before it does work that grows with them. An input beyond
a limit is refused with an :class:`~nlp_coder.errors.InputError` of code ``E105`` whose message
names the limit (by its name here) and says how to proceed. ``docs/limits.md`` lists them.

Each limit is a module-level constant, read when a file is read, so a program (or a test) that
needs another value can set it on this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nlp_coder.errors import InputError

MiB = 1024 * 1024

MAX_TRANSCRIPT_BYTES = 16 * MiB
"""Largest transcript file (.txt, .md, .vtt, .srt) read: 16 MiB.

A ten-hour interview is about 1 MB of text; a file beyond this is almost certainly not one
transcript (and would take minutes to lay out as turns). Split it into several files (one per
interview). A Word file, which may hold pictures, is held to the zip limits instead."""

MAX_TABLE_BYTES = 1024 * MiB
"""Largest table read: 1 GiB (fragment tables, ``metadata.csv``, codings CSV, suggest JSONL, gold
files). A million fragments take about 200 MB; split larger tables into several files."""

MAX_CODEBOOK_BYTES = 16 * MiB
"""Largest codebook read: 16 MiB (a codebook of 1,000 codes with ten quotes each is about 2 MB).
It bounds a YAML file, a ``.qdc`` file, and the text (names and descriptions) of a ``.qdpx``
project's codes."""

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects in one JSON line (a fragment table's row, a gold row,
a suggest record). The rows nlp_coder reads are flat or nested two levels; deeper values are
refused before they are turned into text."""

MAX_YAML_NODES = 200_000
"""Most YAML values (scalars, lists, mappings) a codebook may hold once its aliases (``*name``)
are expanded. Counted before anything is expanded, so an "alias bomb" (a few lines whose aliases
expand to billions of values) is refused at once. A codebook of 1,000 codes with ten quotes each
holds about 30,000."""

MAX_YAML_ALIASES = 1_000
"""Most aliases (``*name``) a codebook may use. Codebooks rarely use any; write the values out
if you need more."""

MAX_YAML_DEPTH = 64
"""Deepest nesting of lists and mappings in a codebook (a codebook needs five levels)."""

MAX_ZIP_MEMBERS = 20_000
"""Most files a zip archive (.docx, .qdpx) may hold."""

MAX_ZIP_MEMBER_BYTES = 256 * MiB
"""Largest file inside a zip archive (.docx, .qdpx), unpacked: 256 MiB."""

MAX_ZIP_TOTAL_BYTES = 1024 * MiB
"""Largest total size of the files inside a zip archive (.docx, .qdpx), unpacked: 1 GiB."""

MAX_ZIP_RATIO = 200
"""Largest compression ratio (unpacked size / packed size) of a file of at least
:data:`ZIP_RATIO_MIN_BYTES` inside a zip archive. Text and XML pack 5 to 20 times; a "zip bomb"
packs thousands of times."""

ZIP_RATIO_MIN_BYTES = 1 * MiB
"""Files inside a zip archive smaller than this (unpacked) are not held to :data:`MAX_ZIP_RATIO`:
a small file of repeated characters packs very well and is harmless."""

MAX_XML_BYTES = 256 * MiB
"""Largest XML document parsed (a ``project.qde``, a ``.qdc`` codebook, a part of a .docx)."""

MAX_CODE_DEPTH = 100
"""Deepest nesting of codes in a REFI-QDA codebook (``<Code>`` inside ``<Code>``)."""

MAX_SNIFF_CHARS = 8192
"""Characters of a CSV file's start given to :class:`csv.Sniffer` to detect the delimiter when the
header line does not tell (the sniffer's time grows with the square of its sample)."""

LIMIT_CODE = "E105"
"""The catalogue code of every refusal for a limit."""


def exceeded(what: str, where: str, limit: str, fix: str) -> InputError:
    """The error for an input beyond the limit named ``limit`` (a constant of this module)."""
    return InputError(what, where, f"{fix} (safety limit {limit} in nlp_coder.readers.limits)",
                      code=LIMIT_CODE)


def size_text(size: int) -> str:
    """A byte count for messages: ``64 MiB``, ``1,234 bytes``."""
    if size >= MiB and size % MiB == 0:
        return f"{size // MiB:,} MiB"
    return f"{size:,} bytes"


def read_limited(path: Path, where: str, *, limit: str, what: str = "file",
                 fix: str = "Split it into smaller files") -> bytes:
    """A file's bytes, refusing a file larger than the limit named ``limit`` before reading it.

    Args:
        path: the file.
        where: the file's name, for messages.
        limit: the name of the limit in this module (``"MAX_TABLE_BYTES"``).
        what: what the file is, for messages ("codebook file").
        fix: how to proceed when the file is too large.

    Raises:
        InputError: the file does not exist (E101), cannot be read (E102), or is too large (E105).
    """
    maximum = globals()[limit]
    try:
        size = path.stat().st_size
        if size > maximum:
            raise exceeded(f"the {what} is {size_text(size)}, more than {size_text(maximum)}", where, limit, fix)
        with path.open("rb") as handle:
            data = handle.read(maximum + 1)  # the file may have grown since stat
    except FileNotFoundError:
        raise InputError(f"no such {what}", where, "Check the path", code="E101") from None
    except IsADirectoryError:
        raise InputError(f"is a folder, not a {what}", where, "Give the path of a file", code="E101") from None
    except OSError as error:
        raise InputError(f"cannot read the {what} ({error.strerror or error})", where,
                         "Check that it exists and can be read", code="E102") from None
    if len(data) > maximum:
        raise exceeded(f"the {what} is more than {size_text(maximum)}", where, limit, fix)
    return data


class JsonProblem(Exception):
    """A JSON text that cannot be used: ``message`` says why; ``limit`` names the limit exceeded,
    if that is the reason."""

    def __init__(self, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit


def load_json(text: str) -> object:
    """``json.loads`` with nesting bounded by :data:`MAX_JSON_DEPTH`.

    Raises:
        JsonProblem: the text is not valid JSON, holds a number Python cannot read (an integer of
            more than 4,300 digits), or nests deeper than the limit.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise JsonProblem(error.msg) from None
    except RecursionError:  # the decoder's own guard, far beyond MAX_JSON_DEPTH
        raise JsonProblem(f"nested more than {MAX_JSON_DEPTH} levels deep", "MAX_JSON_DEPTH") from None
    except ValueError:  # an integer too long for int() (sys.get_int_max_str_digits)
        raise JsonProblem(f"holds a number of more than {sys.get_int_max_str_digits():,} digits") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise JsonProblem(f"nested more than {MAX_JSON_DEPTH} levels deep", "MAX_JSON_DEPTH")
    return value


def json_depth(value: object) -> int:
    """How deeply arrays and objects nest in a JSON value (0 for a string or number), without
    recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children if isinstance(child, (dict, list)))
    return deepest
