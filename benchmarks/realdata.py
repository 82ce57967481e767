"""Load the real, human-coded data in ``../shared/data`` for evaluation and benchmarks.

Nothing here is part of the product and no real text is ever copied into the repository:
transcripts are rebuilt into a folder the caller chooses (a temporary one in tests).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
ANNOMI = SHARED / "data" / "annomi" / "AnnoMI-simple.csv"


@dataclass(frozen=True)
class Utterance:
    """One AnnoMI utterance as coded by the dataset's annotators."""

    transcript: str
    index: int
    speaker: str
    timestamp: str
    text: str
    therapist_behaviour: str
    client_talk_type: str


def annomi_utterances(path: Path = ANNOMI) -> list[Utterance]:
    """Every utterance of AnnoMI-simple.csv, in transcript and utterance order."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [
            Utterance(r["transcript_id"], int(r["utterance_id"]), r["interlocutor"], r["timestamp"],
                      r["utterance_text"], r["main_therapist_behaviour"], r["client_talk_type"])
            for r in csv.DictReader(handle)
        ]
    return sorted(rows, key=lambda u: (int(u.transcript), u.index))


def rebuild_annomi_transcripts(folder: Path, utterances: list[Utterance] | None = None,
                               limit: int | None = None) -> dict[str, list[Utterance]]:
    """Write each AnnoMI conversation as speaker-turn text: ``[00:00:13] therapist: ...``.

    Returns:
        The utterances of each written file, keyed by file name.
    """
    by_transcript: dict[str, list[Utterance]] = {}
    for u in utterances or annomi_utterances():
        by_transcript.setdefault(u.transcript, []).append(u)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Utterance]] = {}
    for transcript, items in list(by_transcript.items())[:limit]:
        name = f"annomi-{int(transcript):03d}.txt"
        lines = [f"[{u.timestamp}] {u.speaker}: {' '.join(u.text.split())}" for u in items]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        written[name] = items
    return written


ANNOMI_FULL = SHARED / "data" / "annomi" / "AnnoMI-full.csv"
MANIFESTO = SHARED / "data" / "manifesto_uk"


@dataclass(frozen=True)
class AnnotatedUtterance:
    """One annotator's codes for one utterance of AnnoMI-full.csv."""

    transcript: str
    index: int
    speaker: str
    text: str
    annotator: str
    therapist_behaviour: str
    client_talk_type: str


def annomi_full(path: Path = ANNOMI_FULL) -> list[AnnotatedUtterance]:
    """Every row of AnnoMI-full.csv (one row per utterance and annotator), in file order."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            AnnotatedUtterance(r["transcript_id"], int(r["utterance_id"]), r["interlocutor"], r["utterance_text"],
                               r["annotator_id"], r["main_therapist_behaviour"], r["client_talk_type"])
            for r in csv.DictReader(handle)
        ]


@dataclass(frozen=True)
class ManifestoSentence:
    """One quasi-sentence of a Manifesto Project document with its category (``NA``/``000``: none)."""

    document: str
    index: int
    text: str
    code: str


def manifesto_sentences(folder: Path = MANIFESTO) -> list[ManifestoSentence]:
    """Every quasi-sentence of the UK manifestos, in document and sentence order.

    Sub-categories roll up to their category (``201.1`` -> ``201``); ``0`` becomes ``000``.
    """
    out: list[ManifestoSentence] = []
    for path in sorted((folder / "manifestos").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for i, row in enumerate(csv.DictReader(handle)):
                text = row.get("text", row.get("content", "")) or ""
                code = (row["cmp_code"] or "NA").strip().split(".")[0]
                code = "000" if code in {"0", "00", "000"} else code
                out.append(ManifestoSentence(path.stem, i, " ".join(text.split()), code))
    return out


def manifesto_codes(folder: Path = MANIFESTO) -> dict[str, tuple[str, str]]:
    """The Manifesto Project categories: code -> (name, definition)."""
    with (folder / "manifesto_codes.csv").open(encoding="utf-8", newline="") as handle:
        return {r[0].strip(): (r[1].strip(), " ".join(r[2].split())) for r in csv.reader(handle) if r}


def annomi_corpus(folder: Path, limit: int) -> Path:
    """AnnoMI conversations rebuilt as text, as many as give ``limit`` client fragments."""
    from nlp_coder.run import read_and_segment
    from nlp_coder.segment import SegmentOptions

    everything = folder / "all"
    rebuild_annomi_transcripts(everything)
    seg = read_and_segment(everything, SegmentOptions())
    counts: dict[str, int] = {}
    for f in seg.fragments:
        counts[f.document] = counts.get(f.document, 0) + 1
    chosen = folder / "annomi"
    chosen.mkdir()
    total = 0
    for name in sorted(counts):
        (chosen / name).write_text((everything / name).read_text(encoding="utf-8"), encoding="utf-8")
        total += counts[name]
        if total >= limit:
            break
    return chosen


def manifesto_table(folder: Path, limit: int) -> Path:
    """Manifesto quasi-sentences as one fragment table (``id``, ``document``, ``text``)."""
    table = folder / "manifesto.csv"
    rows = []
    for path in sorted((SHARED / "data" / "manifesto_uk" / "manifestos").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for i, row in enumerate(csv.DictReader(handle)):
                text = (row.get("text") or row.get("content") or "").strip()
                if text:
                    rows.append((f"{path.stem}-{i}", path.stem, text))
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "document", "text"])
        writer.writerows(rows[:limit])
    return table
