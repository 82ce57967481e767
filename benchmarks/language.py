"""Language detection (nlp_coder.language) on interview text: how often it is right, how fast.

    .venv/bin/python -m benchmarks.language

On AnnoMI (English counselling talk, ../shared; skipped when absent): every utterance of 3-12
words and of more than 25 words, and each whole conversation rebuilt as a transcript
(:func:`benchmarks.realdata.rebuild_annomi_transcripts`), as ``nlp-coder`` reads it; on the
bundled English example (``corpus/``) and the fictional Dutch one (``corpus-nl/``), each document
and each of its fragments. For each set: how many were detected as the expected language, how
many were ``und`` (too short or unsure: read in the corpus' main language), which other
languages were guessed, and the time per text once the detector is loaded (and its load time).
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.realdata import ANNOMI, annomi_utterances, rebuild_annomi_transcripts
from nlp_coder.language import detect_language
from nlp_coder.readers import read_corpus
from nlp_coder.run import read_and_segment

REPO = Path(__file__).resolve().parent.parent


def measure(name: str, texts: list[str], expected: str) -> str:
    """One table row: right, undetermined, other guesses, milliseconds per text."""
    start = time.perf_counter()
    codes = [detect_language(t).code for t in texts]
    per_text = 1000 * (time.perf_counter() - start) / max(len(texts), 1)
    counts = Counter(codes)
    right, und = counts.pop(expected, 0), counts.pop("und", 0)
    others = ", ".join(f"{code} {n}" for code, n in counts.most_common(6)) or "none"
    share = f"{100 * right / len(texts):.1f} %" if texts else "-"
    return f"| {name} | {len(texts)} | {right} ({share}) | {und} | {others} | {per_text:.2f} |"


def main() -> None:
    start = time.perf_counter()
    detect_language("The detector is loaded on the first text it reads.")
    print(f"detector loaded in {time.perf_counter() - start:.2f} s\n")
    print("| texts | n | detected right | und | other guesses | ms per text |")
    print("|---|---|---|---|---|---|")
    for folder, expected in ((REPO / "corpus", "en"), (REPO / "corpus-nl", "nl")):
        print(measure(f"{folder.name}/, documents", [d.text for d in read_corpus(folder)], expected))
        print(measure(f"{folder.name}/, fragments", [f.text for f in read_and_segment(folder).fragments], expected))
    if not ANNOMI.is_file():
        print("\nAnnoMI is not in ../shared: skipped")
        return
    utterances = annomi_utterances()
    short = [u.text for u in utterances if 3 <= len(u.text.split()) <= 12]
    long = [u.text for u in utterances if len(u.text.split()) > 25]
    print(measure("AnnoMI utterances, 3-12 words", short, "en"))
    print(measure("AnnoMI utterances, over 25 words", long, "en"))
    with tempfile.TemporaryDirectory() as tmp:
        rebuild_annomi_transcripts(Path(tmp))
        print(measure("AnnoMI conversations as transcripts", [d.text for d in read_corpus(Path(tmp))], "en"))


if __name__ == "__main__":
    main()
