"""Speaker labels in text that is not a transcript: how much of it is coded.

    .venv/bin/python -m benchmarks.labels

The 15 UK manifestos (``manifesto_uk``) are written out as text files, one quasi-sentence per
paragraph, in document order. They are policy documents, not interviews, but 396 of their
16,705 quasi-sentences start like a speaker label ("We will:", "Our plan of action:", "Our
aim:"). Each file is read and cut with the default options, and the script prints, over all
files, the paragraphs, the fragments coded, the documents in which speakers were found, and the
paragraphs left out as text before the first label or as a header. The AnnoMI transcripts
(rebuilt as ``therapist:``/``client:`` text) are read the same way as a check on transcripts
that are one. Run it on two versions of nlp_coder to compare them.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from benchmarks.realdata import MANIFESTO, rebuild_annomi_transcripts
from nlp_coder.readers import read_corpus_report
from nlp_coder.segment import SegmentOptions, load_pipeline, segment


def write_manifestos(folder: Path, source: Path = MANIFESTO / "manifestos") -> int:
    """Each manifesto as ``<name>.txt``, one quasi-sentence per paragraph; returns the paragraphs."""
    total = 0
    for path in sorted(source.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = [(row.get("text") or row.get("content") or "").strip() for row in csv.DictReader(handle)]
        rows = [" ".join(r.split()) for r in rows if r.strip()]
        total += len(rows)
        (folder / f"{path.stem}.txt").write_text("\n\n".join(rows) + "\n", encoding="utf-8")
    return total


def measure(folder: Path) -> dict[str, int]:
    documents = read_corpus_report(folder).documents
    fragments = segment(documents, SegmentOptions(), nlp=load_pipeline("auto"))
    return {
        "documents": len(documents),
        "with speakers": sum(1 for d in documents if d.speakers),
        "fragments": len(fragments),
        "fragments with a speaker": sum(1 for f in fragments if f.speaker is not None),
        "characters coded": sum(f.end - f.start for f in fragments),
        "characters": sum(len(d.text.strip()) for d in documents),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        manifestos = Path(tmp, "manifestos")
        manifestos.mkdir()
        paragraphs = write_manifestos(manifestos)
        print(f"manifestos ({paragraphs} paragraphs):", measure(manifestos))
        annomi = Path(tmp, "annomi")
        annomi.mkdir()
        rebuild_annomi_transcripts(annomi)
        print("AnnoMI:", measure(annomi))


if __name__ == "__main__":
    main()
