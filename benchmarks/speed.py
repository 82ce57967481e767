"""Speed of the default model, the fast model and the cascade, and what the speed costs in quality.

Run from the repository root (needs ``../shared/data`` and the fast model, ``make fast-model``)::

    .venv/bin/python -m benchmarks.speed --limit 2000 --repeats 5          # speed
    .venv/bin/python -m benchmarks.speed --quality                          # quality of fast / cascade
    .venv/bin/python -m benchmarks.speed --pool                             # 2 threads vs 2 processes
    .venv/bin/python -m benchmarks.speed --limit 8000 --default-only       # raw vs default, more text

**Speed** (per data set, in one process, on the same fragments): reading + segmentation; the raw
``SentenceTransformer.encode`` of the fragment texts by the default model on torch (the baseline);
the same model's encode on ONNX Runtime, as ``suggest`` runs it on the CPU; the raw ``encode`` of
the fast model; ``suggest`` end to end with a cold store (every text embedded)
and again on the warm store (every vector cached) for the default model, the fast model and the
cascade, as ``suggest --format jsonl`` runs (results streamed to a sink, not kept). Each of
``--repeats`` rounds times everything back to back; figures are fragments/s, and ratios (against
the baseline or the default model) are taken within a round; the table gives medians over the
rounds. Models are loaded once, before timing.

**Quality** (``--quality``): the few-shot protocol of ``benchmarks.evaluate`` (K exemplars per
code drawn from training documents; only other documents are scored), on AnnoMI therapist
behaviour and Manifesto UK, the default matcher with the full model, the fast model and the
cascade at several shares: macro-F1 of the top-1 code against the human codes, and agreement
with the full model (top-1 code; whole decision). Vectors are cached in ``--db``.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CODEBOOK = REPO / "codebooks" / "working-alliance.yaml"
DEFAULT_STORE = REPO / "out" / "speed-cache.db"
SHARES = (0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7)


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


# -- speed -----------------------------------------------------------------------------------------

def measure_speed(name: str, corpus: Path, full, fast, reference, repeats: int,  # type: ignore[no-untyped-def]
                  work: Path, share: float, default_only: bool = False) -> dict[str, float | int | str]:
    """Every measure of one data set, in rounds: each round times the raw encodes and each
    variant cold (a new store) and cached (the same store again) back to back, so that a ratio
    compares runs made within seconds of each other; the table gives the median over rounds of
    each throughput and of each ratio (the machine's speed drifts by 10-20 % over minutes)."""
    from nlp_coder.run import SuggestOptions, read_and_segment, suggest
    from nlp_coder.segment import SegmentOptions

    seg_options = SegmentOptions()
    seg = read_and_segment(corpus, seg_options)
    texts = [f.text for f in seg.fragments]
    unique = list(dict.fromkeys(texts))
    n = len(texts)
    row: dict[str, float | int | str] = {"data": name, "fragments": n, "distinct": len(unique)}
    variants = {
        "default": (SuggestOptions(), full, None),
        "fast": (SuggestOptions(model="fast"), fast, None),
        "cascade": (SuggestOptions(cascade=share), full, fast),
    }
    if default_only:
        variants = {"default": variants["default"]}
    rounds: list[dict[str, float]] = []
    for r in range(repeats):
        t: dict[str, float] = {}
        t["segment"] = _median_seconds(lambda: read_and_segment(corpus, seg_options), 1)
        t["raw"] = _median_seconds(lambda: reference.encode(unique, batch_size=64, normalize_embeddings=True), 1)
        t["raw_onnx"] = _median_seconds(lambda: full.encode(unique), 1)
        if not default_only:
            t["raw_fast"] = _median_seconds(lambda: fast.encode(unique), 1)
        for label, (options, embedder, fast_embedder) in variants.items():
            db = work / f"{name[:6]}-{label}-{r}.db"

            def run(options: SuggestOptions = options, embedder=embedder,  # type: ignore[no-untyped-def]
                    fast_embedder=fast_embedder, db: Path = db) -> None:
                result = suggest(corpus, CODEBOOK, db, segment_options=seg_options, options=options,
                                 embedder=embedder, fast_embedder=fast_embedder, keep_results=False,
                                 sink=lambda decided, lines: None)
                if result.cascade is not None:
                    row["cascade_share"] = result.cascade.share

            t[f"{label}_cold"] = _median_seconds(run, 1)
            t[f"{label}_cached"] = _median_seconds(run, 1)
        rounds.append(t)

    def median(value: Callable[[dict[str, float]], float]) -> float:
        return statistics.median(value(t) for t in rounds)

    for key in rounds[0]:
        row[key] = median(lambda t, key=key: n / t[key])
    for label in variants:
        row[f"{label}_cached_speedup"] = median(lambda t, label=label: t[f"{label}_cold"] / t[f"{label}_cached"])
    row["default_vs_raw"] = median(lambda t: t["raw"] / t["default_cold"])
    row["default_vs_runtime"] = median(lambda t: t["raw_onnx"] / t["default_cold"])
    if not default_only:
        row["fast_vs_default"] = median(lambda t: t["default_cold"] / t["fast_cold"])
        row["cascade_cost"] = median(lambda t: t["cascade_cold"] / t["default_cold"])
    return row


def speed(limit: int, repeats: int, share: float, default_only: bool = False) -> str:
    from benchmarks.realdata import annomi_corpus, manifesto_table
    from nlp_coder.embed.models import load_embedder

    start = time.perf_counter()
    full = load_embedder("default", device="cpu")
    full.encode(["warm up"])  # loaded on first use: load it before timing
    t_full = time.perf_counter() - start
    start = time.perf_counter()
    reference = _sentence_transformer()
    t_reference = time.perf_counter() - start
    start = time.perf_counter()
    fast = load_embedder("fast")
    fast.encode(["warm up"])  # reads its vectors on first use: before timing
    t_fast = time.perf_counter() - start
    load_before = _load_average()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows.append(measure_speed("AnnoMI (client turns, sentences)", annomi_corpus(work, limit), full, fast,
                                  reference, repeats, work, share, default_only))
        rows.append(measure_speed("Manifesto UK (quasi-sentences)", manifesto_table(work, limit), full, fast,
                                  reference, repeats, work, share, default_only))
    lines = [
        f"Models loaded before timing: all-MiniLM-L6-v2 on {getattr(full, 'runtime', '?')} {t_full:.1f} s, "
        f"on sentence-transformers (the raw baseline; imports torch) {t_reference:.1f} s, "
        f"fast {t_fast:.2f} s. {platform.machine()}, {os.cpu_count()} CPUs, torch threads "
        f"{_torch_threads()}; load average before/after {load_before} / {_load_average()}; median of {repeats}; "
        f"peak RSS of the whole run {_peak_mib():.0f} MiB. Cascade share {share}.",
        "",
    ]
    if default_only:
        lines += ["| data | fragments (distinct) | raw encode /s (MiniLM) | MiniLM encode /s (ONNX Runtime) | "
                  "default cold /s | default vs raw | default vs ONNX encode | default cached /s | cached vs cold |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['data']} | {r['fragments']} ({r['distinct']}) | {r['raw']:.1f} | {r['raw_onnx']:.1f} | "
                  f"{r['default_cold']:.1f} | {r['default_vs_raw']:.2f}x | {r['default_vs_runtime']:.2f}x | "
                  f"{r['default_cached']:.0f} | {r['default_cached_speedup']:.0f}x |" for r in rows]
        return "\n".join(lines)
    lines += [
        "| data | fragments (distinct) | segment /s | raw encode /s (MiniLM) | MiniLM encode /s (ONNX Runtime) | "
        "default cold /s | default vs raw | default cached /s | cached vs cold | raw encode /s (fast) | "
        "fast cold /s | fast vs default | fast cached /s | cascade cold /s | cascade cost vs default | "
        "cascade cached /s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['data']} | {r['fragments']} ({r['distinct']}) | {r['segment']:.0f} | {r['raw']:.1f} | "
            f"{r['raw_onnx']:.1f} | {r['default_cold']:.1f} | {r['default_vs_raw']:.2f}x | {r['default_cached']:.0f} | "
            f"{r['default_cached_speedup']:.0f}x | {r['raw_fast']:.0f} | {r['fast_cold']:.0f} | "
            f"{r['fast_vs_default']:.0f}x | {r['fast_cached']:.0f} | {r['cascade_cold']:.0f} | "
            f"{r['cascade_cost']:.2f} ({r.get('cascade_share', 0):.0%} re-scored) | {r['cascade_cached']:.0f} |")
    return "\n".join(lines)


def _sentence_transformer():  # type: ignore[no-untyped-def]
    """The default model as a plain ``SentenceTransformer`` on the CPU (torch): the raw baseline."""
    from sentence_transformers import SentenceTransformer

    from nlp_coder.embed.models import load_registry, model_folder

    return SentenceTransformer(str(model_folder(load_registry().model("default"))), device="cpu",
                               local_files_only=True)


def _torch_threads() -> str:
    if "torch" not in sys.modules:
        return "?"
    import torch

    return str(torch.get_num_threads())


# -- the command line, as a user runs it ------------------------------------------------------------

def cli(limit: int) -> str:
    """``nlp-coder suggest`` in a fresh process per run (model loading and imports included):
    wall time and peak RSS of the process, on the Manifesto fragments."""
    import subprocess

    from benchmarks.realdata import manifesto_table

    exe = Path(sys.executable).with_name("nlp-coder")
    runs = [("default, cold store", "a", []), ("default, same store again (cached)", "a", []),
            ("--model fast, cold store", "b", ["--model", "fast"]),
            ("--model fast, cached", "b", ["--model", "fast"]),
            ("--cascade 0.3, cold store", "c", ["--cascade", "0.3"])]
    lines = [f"`nlp-coder suggest` on {limit} Manifesto quasi-sentences (fragment table), one fresh process per "
             f"row; load average at the start {_load_average()}.", "",
             "| run | wall s | fragments/s | peak RSS MiB |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = manifesto_table(Path(tmp), limit)
        for label, db, extra in runs:
            command = [str(exe), "suggest", str(corpus), "--codebook", str(CODEBOOK), "--db", f"{tmp}/{db}.db",
                       "--out", f"{tmp}/out.jsonl", "--quiet", *extra]
            start = time.perf_counter()
            with open(f"{tmp}/stderr.txt", "w+", encoding="utf-8") as errors:
                child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
                status, rusage = os.wait4(child.pid, 0)[1:]
                wall = time.perf_counter() - start
                child.returncode = os.waitstatus_to_exitcode(status)
                if child.returncode:
                    errors.seek(0)
                    raise SystemExit(f"{label} failed: {errors.read()[-2000:]}")
            lines.append(f"| {label} | {wall:.1f} | {limit / wall:.0f} | {rusage.ru_maxrss / 1024:.0f} |")
    return "\n".join(lines)


# -- 2 threads vs 2 processes ---------------------------------------------------------------------

def pool(limit: int, repeats: int) -> str:
    """Raw MiniLM encode with torch's threads vs sentence-transformers' multi-process pool."""
    import torch

    from benchmarks.realdata import manifesto_sentences

    texts = list(dict.fromkeys(s.text for s in manifesto_sentences() if s.text))[:limit]
    model = _sentence_transformer()
    cores = os.cpu_count() or 1
    times: dict[str, list[float]] = {}
    processes = model.start_multi_process_pool(["cpu"] * cores)
    try:
        model.encode(texts[:64], pool=processes, batch_size=64)  # start the workers
        # Interleaved, so that a change in the machine's load hits every setting alike.
        for _ in range(repeats):
            for threads in sorted({1, cores}):
                torch.set_num_threads(threads)
                start = time.perf_counter()
                model.encode(texts, batch_size=64, normalize_embeddings=True)
                times.setdefault(f"1 process, {threads} torch thread(s)", []).append(time.perf_counter() - start)
            start = time.perf_counter()
            model.encode(texts, pool=processes, batch_size=64, chunk_size=256, normalize_embeddings=True)
            times.setdefault(f"{cores} processes x 1 thread (multi-process pool)", []).append(
                time.perf_counter() - start)
    finally:
        model.stop_multi_process_pool(processes)
    torch.set_num_threads(cores)
    rows = [(label, len(texts) / statistics.median(t)) for label, t in times.items()]
    lines = [f"Raw all-MiniLM-L6-v2 encode of {len(texts)} Manifesto sentences, median of {repeats}; load average "
             f"{_load_average()}.", "", "| setting | sentences/s |", "|---|---|"]
    lines += [f"| {label} | {rate:.1f} |" for label, rate in rows]
    return "\n".join(lines)


# -- quality ----------------------------------------------------------------------------------------

def _cached_encoder(store_path: Path, embedder):  # type: ignore[no-untyped-def]
    from nlp_coder.store import Store, embed_cached

    def encode(texts: Sequence[str]) -> np.ndarray:
        with Store(store_path) as store:
            return embed_cached(store, embedder, list(texts))[0]

    return encode


def _fast_embedder(folder: Path | None):  # type: ignore[no-untyped-def]
    """The registry's fast model, or another static model folder (to compare builds: its id is
    ``static:<folder name>`` so the cache keeps their vectors apart)."""
    from dataclasses import replace

    from nlp_coder.embed.models import StaticEmbedder, file_sha256, load_embedder, load_registry

    if folder is None:
        return load_embedder("fast")
    spec = replace(load_registry().model("fast"), name=f"static:{folder.name}", weights_sha256=None)
    return StaticEmbedder(spec, folder, file_sha256(folder / "model.safetensors"))


def quality(store_path: Path, k: int, seeds: int, shares: Sequence[float], fast_threshold: float | None,
            fast_folder: Path | None = None) -> str:

    from benchmarks.evaluate import annomi_dataset, load_book, manifesto_dataset
    from nlp_coder.analyses.evaluate import build_inputs, draw_split, evaluated_codes, score_predictions
    from nlp_coder.analyses.methods import DEFAULT, METHODS
    from nlp_coder.embed.models import load_embedder, load_registry
    from nlp_coder.match.cascade import (
        CascadeOptions,
        estimate_full,
        select_in_two_stages,
        select_uncertain,
        shifted,
        uncertainty,
        unit_bags,
    )
    from nlp_coder.match.matcher import build_matcher

    decide = METHODS[DEFAULT]  # what suggest does by default

    registry = load_registry()
    full_spec, fast_spec = registry.model("default"), registry.model("fast")
    shift = (fast_threshold if fast_threshold is not None else fast_spec.threshold) - full_spec.threshold
    fast_model = _fast_embedder(fast_folder)
    encoders = {"full": _cached_encoder(store_path, load_embedder("default")),
                "fast": _cached_encoder(store_path, fast_model)}
    lines = [f"Few-shot protocol, K={k} exemplars per code from training documents, {seeds} seeds, mean; threshold "
             f"{full_spec.threshold} (full), {full_spec.threshold + shift:.2f} (fast). Agreement: with the full "
             "model's top-1 code / whole decision (status and codes) on the same fragments.", "",
             "| data | scorer | share re-scored by MiniLM | macro-F1 | Δ vs full | top-1 agreement | "
             "decision agreement |", "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for data in (annomi_dataset("therapist"), manifesto_dataset()):
            book = load_book(data, Path(tmp))
            codes = evaluated_codes(book, data.gold)
            texts = list(dict.fromkeys([g.text for g in data.gold]))
            vectors = {}
            for model, encode in encoders.items():
                start = time.perf_counter()
                matrix = encode(texts + [t for t in _book_texts(book) if t not in set(texts)])
                vectors[model] = matrix
                print(f"{data.name}: {model} vectors in {time.perf_counter() - start:.1f} s", flush=True)
            all_texts = texts + [t for t in _book_texts(book) if t not in set(texts)]
            row = {t: i for i, t in enumerate(all_texts)}
            by_id = {g.id: g for g in data.gold}
            results: dict[str, list[tuple[float, float, float, float]]] = {}
            for seed in range(seeds):
                split, _ = draw_split(data.gold, codes, k, seed)
                drawn = {code: tuple(by_id[i] for i in ids) for code, ids in split.exemplars}
                held = set(split.test_documents)
                test_gold = [g for g in data.gold if g.document in held]
                truth = [g.codes for g in test_gold]
                predictions = {}
                for model in ("full", "fast"):
                    matrix = vectors[model]
                    dims = matrix.shape[1]

                    def lookup(items: Sequence[str], matrix: np.ndarray = matrix, dims: int = dims,
                               row: dict[str, int] = row) -> np.ndarray:
                        if not items:
                            return np.zeros((0, dims), dtype=np.float32)
                        # Contexts (the text before) are not embedded: the matcher never reads them.
                        return np.stack([matrix[row[t]] if t in row else np.zeros(dims, np.float32)
                                         for t in items])

                    settings = _settings(book, full_spec)
                    model_book = book
                    if model == "fast":
                        model_book, settings = shifted(book, settings, shift)
                    training, test = build_inputs(model_book, codes, drawn, test_gold, lookup, settings, seed)
                    predictions[model] = (decide(training, test), training, test)
                full_pred, full_train, full_test = predictions["full"]
                fast_pred, fast_train, fast_test = predictions["fast"]
                book_texts = _book_texts(book)
                fast_book = np.stack([vectors["fast"][row[t]] for t in book_texts])
                full_book = np.stack([vectors["full"][row[t]] for t in book_texts])
                matcher = build_matcher(fast_train.settings).fit(fast_train.codebook, fast_train.encode)
                values = uncertainty(matcher, matcher.score(fast_test.vectors))
                full = build_matcher(full_train.settings).fit(full_train.codebook, full_train.encode)
                bags = unit_bags(fast_model.bags([g.text for g in test_gold]))
                book_pairs = (fast_book, full_book, unit_bags(fast_model.bags(book_texts)))
                corrected = functools.partial(estimate_full, fast_test.vectors, bags, book_pairs)
                mapped_only = functools.partial(_mapped_only, fast_test.vectors, fast_book, full_book)
                for label, pred in (("full", full_pred), ("fast", fast_pred)):
                    results.setdefault(label, []).append(_row(truth, pred, full_pred, codes, 1.0 if label == "full"
                                                              else 0.0, score_predictions))
                for share in shares:
                    chosen = select_uncertain(values, CascadeOptions(share=share))
                    mixed = _mix(fast_pred, full_pred, chosen)
                    results.setdefault(f"cascade {share}, fast decisions kept", []).append(
                        _row(truth, mixed, full_pred, codes, len(chosen) / len(values), score_predictions))
                    # The others decided by the full matcher on estimated vectors. Three ways, each
                    # adding one step of what suggest --cascade does: every re-scored fragment chosen by
                    # the fast model's uncertainty and the map alone (one stage); half of them chosen
                    # by the uncertainty of the mapped decisions (two stages); and the map corrected by
                    # bags of tokens (the cascade).
                    variants = (
                        (f"cascade {share}, one stage, map only", chosen, mapped_only),
                        (f"cascade {share}, two stages, map only",
                         select_in_two_stages(values, CascadeOptions(share=share), full_test.vectors.__getitem__,
                                              functools.partial(_uncertainty_of, full, mapped_only),
                                              len(book_texts))[0], mapped_only),
                        (f"cascade {share}", select_in_two_stages(
                            values, CascadeOptions(share=share), full_test.vectors.__getitem__,
                            functools.partial(_uncertainty_of, full, corrected), len(book_texts))[0], corrected),
                    )
                    for label, rescored, estimate in variants:
                        kept = np.setdiff1d(np.arange(len(values)), rescored)
                        estimated = full_test.vectors.copy()
                        estimated[kept] = estimate(rescored, full_test.vectors[rescored], kept)
                        through_map = decide(full_train, replace(full_test, vectors=estimated))
                        results.setdefault(label, []).append(
                            _row(truth, through_map, full_pred, codes, len(rescored) / len(values), score_predictions))
            base = float(np.mean([r[1] for r in results["full"]]))
            for label, runs in results.items():
                share_done, f1, top1, decision = (float(np.mean([r[i] for r in runs])) for i in range(4))
                lines.append(f"| {data.name} | {label} | {share_done:.0%} | {f1:.3f} | {f1 - base:+.3f} | "
                             f"{top1:.3f} | {decision:.3f} |")
    return "\n".join(lines)


def _uncertainty_of(matcher, estimate, rows: np.ndarray, vectors: np.ndarray,  # type: ignore[no-untyped-def]
                    todo: np.ndarray) -> np.ndarray:
    """The uncertainty of the full matcher's decisions on the estimated vectors of ``todo``."""
    from nlp_coder.match.cascade import uncertainty

    return uncertainty(matcher, matcher.score(estimate(rows, vectors, todo)))


def _mapped_only(fast_vectors: np.ndarray, fast_book: np.ndarray, full_book: np.ndarray, rows: np.ndarray,
                 vectors: np.ndarray, todo: np.ndarray) -> np.ndarray:
    """Full-model vectors of ``todo`` through the linear map alone (no correction by tokens)."""
    from nlp_coder.match.cascade import map_vectors

    return map_vectors(np.concatenate([fast_vectors[rows], fast_book]), np.concatenate([vectors, full_book]),
                       fast_vectors[todo])


def _book_texts(book) -> list[str]:  # type: ignore[no-untyped-def]
    from nlp_coder.match.matcher import codebook_texts

    return codebook_texts(book)


def _settings(book, spec):  # type: ignore[no-untyped-def]
    """The settings suggest uses by default with the default method (its definition weight and threshold)."""
    from nlp_coder.match.settings import DEFAULT_METHOD, resolve_settings

    return resolve_settings(book, spec.name, method=DEFAULT_METHOD)


def _mix(fast, full, chosen: np.ndarray):  # type: ignore[no-untyped-def]
    from nlp_coder.analyses.methods import Prediction

    scores = fast.scores.copy()
    assigned, status = list(fast.assigned), list(fast.status)
    for i in chosen:
        scores[i] = full.scores[i]
        assigned[i], status[i] = full.assigned[i], full.status[i]
    return Prediction(scores, tuple(assigned), tuple(status))


def _row(truth, pred, full, codes, share, score_predictions) -> tuple[float, float, float, float]:  # type: ignore[no-untyped-def]
    metrics = score_predictions(truth, pred, codes)
    top = np.argsort(-np.round(pred.scores, 6), axis=1, kind="stable")[:, 0]
    top_full = np.argsort(-np.round(full.scores, 6), axis=1, kind="stable")[:, 0]
    decision = np.mean([(a, s) == (b, t) for a, s, b, t in zip(pred.assigned, pred.status, full.assigned,
                                                                  full.status)])
    return share, float(metrics.get("macro_f1") or 0.0), float(np.mean(top == top_full)), float(decision)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=2000, help="fragments per data set (speed)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.3, help="cascade share (speed)")
    parser.add_argument("--default-only", action="store_true",
                        help="speed: only the raw encode and the default model (for larger --limit)")
    parser.add_argument("--quality", action="store_true", help="measure quality instead of speed")
    parser.add_argument("--pool", action="store_true", help="compare 2 threads with 2 processes instead")
    parser.add_argument("--cli", action="store_true", help="time the command line in fresh processes instead")
    parser.add_argument("--k", type=int, default=16, help="exemplars per code (quality)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds (quality)")
    parser.add_argument("--fast-threshold", type=float, help="fast-model threshold (quality; default: registry)")
    parser.add_argument("--db", type=Path, default=DEFAULT_STORE, help="embedding cache (quality)")
    parser.add_argument("--fast-folder", type=Path, help="another static model folder as the fast model (quality)")
    args = parser.parse_args(argv)
    from benchmarks.realdata import SHARED

    if not SHARED.is_dir():
        raise SystemExit("../shared is not present: the benchmark needs the real data")
    if args.pool:
        print(pool(args.limit, args.repeats))
    elif args.cli:
        print(cli(args.limit))
    elif args.quality:
        print(quality(args.db, args.k, args.seeds, SHARES, args.fast_threshold, args.fast_folder))
    else:
        print(speed(args.limit, args.repeats, args.share, args.default_only))


if __name__ == "__main__":
    main()
