"""Speed of nlp_coder next to BERTopic, the topic-modelling tool a researcher would otherwise pick.

BERTopic and its UMAP / HDBSCAN / numba stack are not dependencies of nlp_coder: install them in a
separate virtual environment (the ``bench`` extra), so the project's own environment stays as it is.
From the repository root::

    python3 -m venv build/peer-venv
    build/peer-venv/bin/pip install torch==2.13.0          # first: the CPU build, not the CUDA one
    build/peer-venv/bin/pip install -e ".[bench]"          # nlp_coder (editable) + bertopic>=0.16
    build/peer-venv/bin/pip list | grep torch              # must still say 2.13.0+cpu
    build/peer-venv/bin/python -m benchmarks.peer --limit 2000 --repeats 3 [--json out/peer.json]

Needs ``../shared/data`` (AnnoMI and Manifesto UK) and the fast model (``make fast-model``).

Per data set (AnnoMI client talk rebuilt as transcripts, cut into sentences by nlp_coder; Manifesto UK
quasi-sentences as a fragment table), on the same fragments and in one process:

- **raw encode**: ``SentenceTransformer.encode`` of the fragment texts by all-MiniLM-L6-v2 (the common
  reference: what any MiniLM-based tool must pay at least once);
- **BERTopic cold**: ``BERTopic(embedding_model=<the same MiniLM SentenceTransformer>,
  calculate_probabilities=False).fit_transform(texts)``: embeddings computed inside, then BERTopic's
  default UMAP (with a fixed ``random_state``, for determinism) and HDBSCAN, and its c-TF-IDF topic
  words;
- **BERTopic, precomputed embeddings**: ``fit_transform(texts, embeddings=...)``: the clustering part only;
- **nlp_coder read + segment** alone: part of every nlp_coder row (BERTopic is handed the texts);
- **nlp_coder suggest**, default model (MiniLM on ONNX Runtime, as ``suggest`` runs it on the CPU once
  ``make setup`` has built its export), ``model="fast"`` and the cascade (``cascade=0.3``: the fast
  model, then MiniLM for 30 % of the fragments), each with a fresh (cold) store: reading,
  segmentation, embedding every distinct text, matching against ``codebooks/working-alliance.yaml``,
  writing the run to the store;
- **nlp_coder discover** without a codebook (open coding: every fragment clustered, BERTopic's job), cold
  store, default model.

Models (MiniLM, the fast model, spaCy pipelines) are loaded before timing. The first ``fit_transform``
in a process also compiles UMAP's (and pynndescent's) numba code: it is timed once, as its own "first
call" row (with precomputed embeddings, to compare with the warm row of the same call), before the warm
repeats. numba starts from an empty cache folder, so every run pays the compilation a first run pays
(``--numba-cache``: use the environment's on-disk cache instead, as later runs of BERTopic do).
Figures are medians of ``--repeats`` runs; the ratio is BERTopic cold (warm process) time
divided by the row's time, measured in the same run (above 1: faster than BERTopic). Peak RSS is the
process's high-water mark during the row (reset before each row through ``/proc/self/clear_refs``
where the kernel allows it), so it includes every library and model already loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CODEBOOK = REPO / "codebooks" / "working-alliance.yaml"
SEED = 42
FIRST_CALL = "BERTopic, precomputed embeddings, first call in the process (numba compilation)"
BERTOPIC_COLD = "BERTopic cold (embeddings inside fit_transform)"


@dataclass
class Row:
    data: str
    label: str
    fragments: int
    seconds: float
    peak_rss_mib: float
    output: str = ""
    ratio: float | None = None

    @property
    def rate(self) -> float:
        return self.fragments / self.seconds if self.seconds else float("inf")


# -- measuring ---------------------------------------------------------------------------------------

def _rss_mib() -> float:
    """The process's current RSS (0 where /proc is not readable)."""
    try:
        found = re.search(r"VmRSS:\s+(\d+)\s+kB", Path("/proc/self/status").read_text())
    except OSError:  # pragma: no cover
        return 0.0
    return int(found.group(1)) / 1024 if found else 0.0


def _hwm_mib() -> float:
    """The process's peak RSS: VmHWM (resettable) where readable, else ru_maxrss."""
    try:
        status = Path("/proc/self/status").read_text()
        found = re.search(r"VmHWM:\s+(\d+)\s+kB", status)
        if found:
            return int(found.group(1)) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_hwm() -> bool:
    """Reset the peak-RSS mark to the current RSS (Linux >= 4.0); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:  # pragma: no cover
        return False


def _timed(run: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """Median seconds over ``repeats``, peak RSS during them, and the last run's result."""
    _reset_hwm()
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), _hwm_mib(), result


def _load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


# -- BERTopic ---------------------------------------------------------------------------------------

def _bertopic_factory(model, seed: int = SEED) -> Callable[[], object]:  # type: ignore[no-untyped-def]
    """A fresh BERTopic with the library's default settings, but UMAP seeded and no probabilities."""
    from bertopic import BERTopic
    from umap import UMAP

    defaults = BERTopic().umap_model.get_params()  # whatever this version's defaults are

    def make():  # type: ignore[no-untyped-def]
        return BERTopic(embedding_model=model, umap_model=UMAP(**{**defaults, "random_state": seed}),
                        calculate_probabilities=False, verbose=False)

    return make


def _topics(result) -> str:  # type: ignore[no-untyped-def]
    topics = result[0]
    found = len(set(topics) - {-1})
    outliers = sum(1 for t in topics if t == -1)
    return f"{found} topics, {outliers} outliers"


# -- one data set -----------------------------------------------------------------------------------

def measure(name: str, corpus: Path, models: dict, repeats: int, work: Path,  # type: ignore[type-arg]
            first_call: bool) -> list[Row]:
    from nlp_coder.analyses.discover import discover_themes
    from nlp_coder.run import SuggestOptions, read_and_segment, suggest
    from nlp_coder.segment import SegmentOptions

    seg_options = SegmentOptions()
    seg = read_and_segment(corpus, seg_options)  # loads the spaCy pipeline before timing
    texts = [f.text for f in seg.fragments]
    n = len(texts)
    label_n = f"{name}: {n} fragments ({len(set(texts))} distinct)"
    full, fast, st = models["full"], models["fast"], models["st"]
    make = models["bertopic"]
    rows: list[Row] = []

    def add(label: str, seconds: float, peak: float, output: str = "") -> Row:
        row = Row(label_n, label, n, seconds, peak, output)
        rows.append(row)
        print(f"  {label}: {seconds:.2f} s", file=sys.stderr, flush=True)
        return row

    vectors = st.encode(texts, show_progress_bar=False)  # as BERTopic's backend computes them
    if first_call:  # the same call as the "precomputed" row below, so the difference is compilation
        seconds, peak, result = _timed(lambda: make().fit_transform(texts, embeddings=vectors), 1)
        add(FIRST_CALL, seconds, peak, _topics(result))
    seconds, peak, result = _timed(lambda: make().fit_transform(texts), repeats)
    cold = add(BERTOPIC_COLD, seconds, peak, _topics(result))
    seconds, peak, result = _timed(lambda: make().fit_transform(texts, embeddings=vectors), repeats)
    add("BERTopic, precomputed embeddings (UMAP + HDBSCAN + c-TF-IDF only)", seconds, peak, _topics(result))
    seconds, peak, _ = _timed(lambda: st.encode(texts, batch_size=64, normalize_embeddings=True,
                                                show_progress_bar=False), repeats)
    add("raw SentenceTransformer.encode (MiniLM, batch 64)", seconds, peak, "vectors only")

    seconds, peak, _ = _timed(lambda: read_and_segment(corpus, seg_options), repeats)
    add("nlp_coder read + segment only (part of the rows below; BERTopic is given the texts)", seconds, peak,
        "fragments only")
    counter = iter(range(100_000))

    def fresh_store() -> Path:
        return work / f"{name[:6]}-{next(counter)}.db"

    for label, options, embedder in (
        ("nlp_coder suggest, default model, cold store", SuggestOptions(), full),
        ('nlp_coder suggest, model="fast", cold store', SuggestOptions(model="fast"), fast),
        ("nlp_coder suggest, cascade 0.3 (fast model, then MiniLM), cold store", SuggestOptions(cascade=0.3), full),
    ):
        seconds, peak, result = _timed(
            lambda options=options, embedder=embedder: suggest(
                corpus, CODEBOOK, fresh_store(), segment_options=seg_options, options=options, embedder=embedder,
                fast_embedder=fast),
            repeats)
        statuses = Counter(r.decision.status for r in result.results)  # type: ignore[attr-defined]
        add(label, seconds, peak, ", ".join(f"{count} {status}" for status, count in sorted(statuses.items())))
    seconds, peak, result = _timed(
        lambda: discover_themes(corpus, None, fresh_store(), segment_options=seg_options, embedder=full), repeats)
    add("nlp_coder discover, no codebook (open coding), default model, cold store", seconds, peak,
        f"{len(result.clusters)} clusters, {result.unclustered} unclustered")  # type: ignore[attr-defined]
    for row in rows:
        row.ratio = cold.seconds / row.seconds
    return rows


# -- the whole run ----------------------------------------------------------------------------------

def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("bertopic", "umap-learn", "hdbscan", "numba", "pynndescent", "sentence-transformers", "torch",
                    "scikit-learn", "numpy", "nlp-coder"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "absent"
    return out


def run(limit: int, repeats: int, t_import: float, numba_cache: str) -> tuple[str, dict[str, object]]:
    from benchmarks.realdata import annomi_corpus, manifesto_table
    from benchmarks.speed import _sentence_transformer
    from nlp_coder.embed.models import load_embedder
    from nlp_coder.segment import load_analysis_pipeline

    load_before = _load_average()
    start = time.perf_counter()
    full = load_embedder("default", device="cpu")
    full.encode(["warm up"] * 8)  # load MiniLM as suggest runs it (ONNX Runtime where built) before timing
    st = _sentence_transformer()  # and as BERTopic runs it (torch, sentence-transformers)
    st.encode(["warm up"] * 8)
    t_model = time.perf_counter() - start
    fast = load_embedder("fast")
    fast.encode(["warm up"])  # the fast model reads its vectors on first use: before timing
    load_analysis_pipeline()  # discover's keyword pipeline
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make = _bertopic_factory(st)
    loaded_peak, loaded_rss = _hwm_mib(), _rss_mib()
    models = {"full": full, "fast": fast, "st": st, "bertopic": make}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UMAP: "n_jobs overridden to 1 by setting random_state"
        work = Path(tmp)
        for i, (name, build) in enumerate((("AnnoMI client talk (sentences)", annomi_corpus),
                                           ("Manifesto UK (quasi-sentences)", manifesto_table))):
            print(f"{name}:", file=sys.stderr, flush=True)
            rows += measure(name, build(work, limit), models, repeats, work, first_call=i == 0)
    run_peak = max([loaded_peak, *(r.peak_rss_mib for r in rows)])
    versions = _versions()
    import torch

    header = (
        f"BERTopic {versions['bertopic']} (umap-learn {versions['umap-learn']}, hdbscan {versions['hdbscan']}, "
        f"numba {versions['numba']}), sentence-transformers {versions['sentence-transformers']}, torch "
        f"{versions['torch']} ({torch.get_num_threads()} threads); {platform.machine()}, {os.cpu_count()} CPUs. "
        f"MiniLM loaded before timing in {t_model:.1f} s; importing BERTopic (umap, numba, hdbscan) "
        f"{t_import:.1f} s, not timed; RSS with everything loaded {loaded_rss:.0f} MiB. Median of {repeats}; "
        f"UMAP random_state={SEED} (single-threaded); numba: {numba_cache}. "
        f"Load average before/after {load_before} / {_load_average()}; peak RSS of the whole run "
        f"{run_peak:.0f} MiB."
    )
    lines = [header, "",
             "| data | run | wall s | fragments/s | vs BERTopic cold | peak RSS MiB | output |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        lines.append(f"| {r.data} | {r.label} | {r.seconds:.2f} | {r.rate:.0f} | {ratio} | "
                     f"{r.peak_rss_mib:.0f} | {r.output} |")
    report = {
        "limit": limit, "repeats": repeats, "seed": SEED, "versions": versions, "cpus": os.cpu_count(),
        "machine": platform.machine(), "torch_threads": torch.get_num_threads(), "model_load_s": t_model,
        "bertopic_import_s": t_import, "rss_loaded_mib": loaded_rss, "peak_rss_mib": run_peak,
        "numba_cache": numba_cache,
        "load_average_before": load_before, "load_average_after": _load_average(),
        "rows": [{**asdict(r), "fragments_per_s": r.rate} for r in rows],
    }
    return "\n".join(lines), report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=2000, help="fragments per data set")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--numba-cache", action="store_true",
                        help="use numba's on-disk cache of compiled UMAP code (default: start from an empty one)")
    args = parser.parse_args(argv)
    from benchmarks.realdata import SHARED

    if not SHARED.is_dir():
        raise SystemExit("../shared is not present: the benchmark needs the real data")
    numba_cache = "on-disk cache of this environment"
    if not args.numba_cache:  # every run compiles from scratch: reproducible, and a first run's cost
        cache = tempfile.mkdtemp(prefix="peer-numba-")
        os.environ["NUMBA_CACHE_DIR"] = cache
        numba_cache = "empty cache (fresh compilation)"
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import bertopic  # noqa: F401
            import umap  # noqa: F401  (BERTopic imports it lazily: numba, pynndescent)
    except ImportError:
        raise SystemExit("BERTopic is not installed here: build the separate environment described in "
                         "`python -m pydoc benchmarks.peer` (pip install -e '.[bench]')") from None
    try:
        table, report = run(args.limit, args.repeats, time.perf_counter() - start, numba_cache)
    finally:
        if not args.numba_cache:
            shutil.rmtree(cache, ignore_errors=True)
    print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
