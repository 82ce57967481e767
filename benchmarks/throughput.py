"""Throughput of the pipeline against raw ``SentenceTransformer.encode`` on the same text.

Run from the repository root (needs ``../shared/data``)::

    .venv/bin/python -m benchmarks.throughput --limit 2000 --repeats 3

For each data set it times, in one process and on the same fragments: reading + segmentation;
the raw ``encode`` of the fragment texts by the same model (the baseline); ``suggest`` end to end
with a cold store (every text embedded); and ``suggest`` again on the warm store (every vector from
the cache). Figures are medians over ``--repeats`` runs; ratios are against the baseline measured
in the same run. The model is loaded once, before timing (its load time is reported apart).
"""

from __future__ import annotations

import argparse
import csv
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.realdata import SHARED, rebuild_annomi_transcripts
from nlp_coder.embed import load_embedder
from nlp_coder.pipeline import SuggestOptions, read_and_segment, suggest
from nlp_coder.segment import SegmentOptions

REPO = Path(__file__).resolve().parent.parent
CODEBOOK = REPO / "codebooks" / "working-alliance.yaml"


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _annomi_corpus(folder: Path, limit: int) -> Path:
    """AnnoMI conversations rebuilt as text, as many as give ``limit`` client fragments."""
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


def _manifesto_corpus(folder: Path, limit: int) -> Path:
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


def measure(name: str, corpus: Path, embedder: object, repeats: int, work: Path) -> dict[str, float | int | str]:
    seg_options = SegmentOptions()
    seg = read_and_segment(corpus, seg_options)
    texts = [f.text for f in seg.fragments]
    unique = list(dict.fromkeys(texts))
    n = len(texts)
    model = embedder._model  # type: ignore[attr-defined]
    t_segment = _median_seconds(lambda: read_and_segment(corpus, seg_options), repeats)
    t_raw = _median_seconds(lambda: model.encode(unique, batch_size=64, normalize_embeddings=True), repeats)
    stores = iter(range(repeats + 1))

    def cold() -> None:
        suggest(corpus, CODEBOOK, work / f"{name}-cold-{next(stores)}.db", segment_options=seg_options,
                options=SuggestOptions(), embedder=embedder)  # type: ignore[arg-type]

    t_cold = _median_seconds(cold, repeats)
    warm_store = work / f"{name}-cold-0.db"
    t_cached = _median_seconds(
        lambda: suggest(corpus, CODEBOOK, warm_store, segment_options=seg_options, options=SuggestOptions(),
                        embedder=embedder),  # type: ignore[arg-type]
        repeats,
    )
    return {
        "data": name, "documents": len(seg.documents), "fragments": n, "distinct": len(unique),
        "segment_per_s": n / t_segment, "raw_per_s": n / t_raw, "cold_per_s": n / t_cold,
        "cached_per_s": n / t_cached, "cold_ratio": t_raw / t_cold, "cached_speedup": t_cold / t_cached,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=2000, help="fragments per data set")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    embedder = load_embedder("default")
    t_load = time.perf_counter() - start
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows.append(measure("AnnoMI (client turns, sentences)", _annomi_corpus(work, args.limit), embedder,
                            args.repeats, work))
        rows.append(measure("Manifesto UK (quasi-sentences)", _manifesto_corpus(work, args.limit), embedder,
                            args.repeats, work))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model all-MiniLM-L6-v2 loaded in {t_load:.1f} s; {platform.processor() or platform.machine()}, "
          f"median of {args.repeats}; peak RSS {peak:.0f} MiB")
    print("| data | fragments (distinct) | segment /s | raw encode /s | suggest cold /s | cold vs raw | "
          "suggest cached /s | cached vs cold |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['data']} | {r['fragments']} ({r['distinct']}) | {r['segment_per_s']:.0f} | "
              f"{r['raw_per_s']:.1f} | {r['cold_per_s']:.1f} | {r['cold_ratio']:.2f}x | {r['cached_per_s']:.0f} | "
              f"{r['cached_speedup']:.0f}x |")


if __name__ == "__main__":
    main()
