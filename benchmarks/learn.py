"""The learner on AnnoMI: frozen centroid, frozen + logistic regression with character n-grams,
fine-tuned + head, and the method ``nlp-coder learn`` chooses by cross-validation, with K
exemplars per code drawn from training transcripts and tested on the other transcripts.

    .venv/bin/python -m benchmarks.learn                    # therapist behaviour, K = 16, 3 seeds
    .venv/bin/python -m benchmarks.learn --data client --seeds 1

The split is the evaluation's few-shot protocol (:func:`nlp_coder.analyses.evaluate.draw_split`
on :func:`benchmarks.evaluate.annomi_dataset`): the drawn exemplars are the codebook's, so the
cross-validated choice sees only them (in ``codebook-*`` groups), never a test transcript. Each
method is trained on the exemplars with the functions the learner's cross-validation uses
(:mod:`nlp_coder.learn.choose`) and scored by Cohen's kappa of the top-1 code on every
single-coded utterance of the test transcripts. Frozen vectors are cached in ``out/eval-cache.db``.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.evaluate import DEFAULT_STORE, annomi_dataset, cached_encoder, load_book
from nlp_coder.analyses.evaluate import draw_split
from nlp_coder.learn import METHODS, FinetuneSettings, learn
from nlp_coder.learn.choose import centroid_fold, finetuned_fold, lr_chars_fold
from nlp_coder.learn.data import learnable_codes
from nlp_coder.match.settings import resolve_settings


def kappa(truth: np.ndarray, predicted: np.ndarray) -> float:
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(truth, predicted))


def run(speaker: str, k: int, seeds: Sequence[int], settings: FinetuneSettings, store: Path,
        choose: bool = True) -> list[dict[str, object]]:
    from nlp_coder.embed.models import load_embedder
    from nlp_coder.learn.finetune import load_trainable

    data = annomi_dataset(speaker)
    encode, _ = cached_encoder(store)
    embedder = load_embedder("default")
    trainable = load_trainable("default")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = load_book(data, Path(tmp))
        codes = learnable_codes(base)
        by_id = {g.id: g for g in data.gold}
        for seed in seeds:
            split, _ = draw_split(data.gold, codes, k, seed)
            drawn = dict(split.exemplars)
            book = replace(base, codes=tuple(replace(c, examples=tuple(by_id[i].text for i in drawn.get(c.id, ())))
                                             for c in base.codes))
            texts = [by_id[i].text for c in codes for i in drawn[c]]
            labels = np.array([j for j, c in enumerate(codes) for _ in drawn[c]], dtype=np.int64)
            test = [g for g in data.gold if g.document in set(split.test_documents) and len(g.codes) == 1]
            test_texts = [g.text for g in test]
            truth = np.array([codes.index(g.codes[0]) for g in test], dtype=np.int64)
            test_vectors = encode(test_texts)
            row: dict[str, object] = {"data": data.name, "k": k, "seed": seed, "test": len(test)}
            start = time.perf_counter()
            predicted = centroid_fold(book, resolve_settings(book), codes, texts, labels, test_vectors, encode)
            row["frozen-centroid"], row["frozen-centroid s"] = kappa(truth, predicted), time.perf_counter() - start
            start = time.perf_counter()
            predicted = lr_chars_fold(texts, encode(texts), labels, test_texts, test_vectors, len(codes))
            row["frozen-lr-chars"], row["frozen-lr-chars s"] = kappa(truth, predicted), time.perf_counter() - start
            start = time.perf_counter()
            predicted, tuning = finetuned_fold(trainable, texts, labels, test_texts, [], len(codes), settings, seed,
                                               None, False)
            row["fine-tuned"], row["fine-tuned s"] = kappa(truth, predicted), tuning.seconds
            if choose:
                start = time.perf_counter()
                report = learn(["(the codebook alone)"], book, seed=seed, store=store, embedder=embedder,
                               trainable=trainable, settings=settings)
                row["choice"] = report.choice
                row["choice cv"] = {m.method: m.kappa for m in report.methods}
                row["choice s"] = time.perf_counter() - start
                row["chosen"] = row[report.choice]
            print(row, flush=True)
            rows.append(row)
    return rows


def table(rows: Sequence[dict[str, object]]) -> str:
    head = ["Data set", "seed", *METHODS, "CV choice", "kappa of the choice", "fit s (fine-tuned)", "fit s (choice)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def line(cells: Sequence[object]) -> None:
        lines.append("| " + " | ".join(f"{c:.2f}" if isinstance(c, float) else str(c) for c in cells) + " |")

    for r in rows:
        line([r["data"], r["seed"], *(r[m] for m in METHODS), r.get("choice", "-"), r.get("chosen", "-"),
              r["fine-tuned s"], r.get("choice s", "-")])
    for name in dict.fromkeys(str(r["data"]) for r in rows):
        mine = [r for r in rows if r["data"] == name]
        chosen = [float(r["chosen"]) for r in mine if "chosen" in r]  # type: ignore[arg-type]
        line([f"{name} (mean)", len(mine), *(float(np.mean([r[m] for r in mine])) for m in METHODS), "",
              float(np.mean(chosen)) if chosen else "-", float(np.mean([r["fine-tuned s"] for r in mine])),
              float(np.mean([r["choice s"] for r in mine])) if chosen else "-"])
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("therapist", "client", "both"), default="therapist")
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=FinetuneSettings().steps)
    parser.add_argument("--no-choice", action="store_true", help="Skip the cross-validated choice (5 more fits).")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    args = parser.parse_args(argv)
    args.store.parent.mkdir(parents=True, exist_ok=True)
    settings = replace(FinetuneSettings(), steps=args.steps)
    speakers = ("therapist", "client") if args.data == "both" else (args.data,)
    rows = []
    for speaker in speakers:
        rows.extend(run(speaker, args.k, range(args.seeds), settings, args.store, choose=not args.no_choice))
    print(table(rows))


if __name__ == "__main__":
    main()
