"""The learner on AnnoMI: frozen centroid, frozen + logistic regression with character n-grams,
fine-tuned + head, and the method ``nlp-coder learn`` chooses by cross-validation, with K
exemplars per code drawn from training transcripts and tested on the other transcripts.

    .venv/bin/python -m benchmarks.learn                    # therapist behaviour, K = 16, 3 seeds
    .venv/bin/python -m benchmarks.learn --data client --seeds 1
    .venv/bin/python -m benchmarks.learn --curve             # the learning curve (all three data sets)
    .venv/bin/python -m benchmarks.learn --curve-table       # its Markdown table, from out/learning-curve.jsonl
    .venv/bin/python -m benchmarks.learn --tune base: --tune lr:learning_rate=0.0001   # one change at a time
    .venv/bin/python -m benchmarks.learn --choice --curve-data manifesto   # the learner's choice, per seed
    .venv/bin/python -m benchmarks.learn --grouping          # cross-validation with and without documents

The split is the evaluation's few-shot protocol (:func:`nlp_coder.analyses.evaluate.draw_split`
on :func:`benchmarks.evaluate.annomi_dataset`): the drawn exemplars are the codebook's, so the
cross-validated choice sees only them (in ``codebook-*`` groups), never a test transcript. Each
method is trained on the exemplars with the functions the learner's cross-validation uses
(:mod:`nlp_coder.learn.choose`) and scored by Cohen's kappa of the top-1 code on every
single-coded utterance of the test transcripts. Frozen vectors are cached in ``out/eval-cache.db``.
Prints a Markdown table.

The learning curve (``--curve``) runs ``nlp-coder evaluate``'s library entry point
(:func:`nlp_coder.analyses.evaluate.evaluate_gold`) on the three shared data sets with the frozen
default (``centroid-def``), ``frozen-lr-chars`` and ``fine-tuned`` (the model tuned on each
seed's training exemplars only), at K = 4, 8, 16, 32, 64 exemplars per code and with pilot coding
of 1-4 whole documents; per point, the median over 3 seeds of Cohen's kappa and of the seconds
each method took (fine-tuning alone, and fit plus scoring), and the machine's load. Each point is
appended to ``out/learning-curve.jsonl`` as it finishes (a run can be stopped and resumed: points
already there are skipped); ``--curve-table`` prints the Markdown table from it.
"""

from __future__ import annotations

import argparse
import json
import os
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


CURVE_POINTS = (("K", 16), ("K", 32), ("K", 4), ("K", 64), ("K", 8), ("pilot", 1), ("pilot", 4), ("pilot", 2),
                ("pilot", 3))
"""The learning curve's points, most wanted first (a run that must stop early has those)."""
CURVE_METHODS = ("centroid-def", "frozen-lr-chars", "fine-tuned")
CURVE_FILE = Path(__file__).resolve().parent.parent / "out" / "learning-curve.jsonl"


def curve(store: Path, path: Path = CURVE_FILE, seeds: int = 3, max_test: int = 1000,
          points: Sequence[tuple[str, int]] = CURVE_POINTS, data: Sequence[str] = ("therapist", "client", "manifesto"),
          settings: FinetuneSettings | None = None) -> None:
    """Run the learning curve, appending one JSON line per (data set, point) to ``path``."""
    import nlp_coder.learn.finetune as finetune_module
    from benchmarks.evaluate import annomi_dataset, manifesto_dataset
    from nlp_coder.analyses.evaluate import EvaluateOptions, evaluate_gold

    done = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            done.add((row["data"], row["protocol"], row["n"]))
    encode, model_id = cached_encoder(store)
    loaded: list[object] = []

    def trainable() -> object:
        if not loaded:
            loaded.append(finetune_module.load_trainable("default"))
        return loaded[0]

    tunings: list[float] = []
    real = finetune_module.finetune

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        model, run = real(*args, **kwargs)
        tunings.append(run.seconds)
        return model, run

    finetune_module.finetune = timed  # type: ignore[assignment]
    sets = {"therapist": lambda: annomi_dataset("therapist"), "client": lambda: annomi_dataset("client"),
            "manifesto": manifesto_dataset}
    loaded_sets = {name: sets[name]() for name in data}
    with tempfile.TemporaryDirectory() as tmp:
        for protocol, n in points:
            for name in data:
                dataset = loaded_sets[name]
                if (dataset.name, protocol, n) in done:
                    continue
                book = load_book(dataset, Path(tmp))
                options = EvaluateOptions(methods=CURVE_METHODS, seed=0, repeat=seeds, max_test=max_test,
                                          finetune=settings,
                                          **({"exemplars_from_gold": n} if protocol == "K" else {"pilot_documents": n}))
                tunings.clear()
                load_before = os.getloadavg()[0]
                start = time.perf_counter()
                report = evaluate_gold(dataset.gold, book, encode, options, model_id=model_id, source=dataset.name,
                                      trainable=trainable)
                row = {"data": dataset.name, "protocol": protocol, "n": n, "seeds": seeds, "max_test": max_test,
                       "exemplars": [sum(len(ids) for _, ids in s.exemplars) for s in report.splits],
                       "test": [r.n for r in report.methods[0].runs],
                       "kappa": {m.method: [r.get("kappa") for r in m.runs] for m in report.methods},
                       "macro_f1": {m.method: [r.get("macro_f1") for r in m.runs] for m in report.methods},
                       "seconds": {m.method: list(m.seconds) for m in report.methods},
                       "finetune_seconds": list(tunings), "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                       "wall": round(time.perf_counter() - start, 1), "warnings": len(report.warnings)}
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(f"{dataset.name} {protocol}={n}: " + ", ".join(
                    f"{m} {np.median(v):.2f}" for m, v in row["kappa"].items()) + f" ({row['wall']}s, load "
                    f"{row['load']})", flush=True)
    finetune_module.finetune = real  # type: ignore[assignment]


CHOICE_FILE = Path(__file__).resolve().parent.parent / "out" / "learned-choice.jsonl"


def grouping_check(store: Path, k: int = 16, seeds: int = 3, max_test: int = 3000,
                   data: Sequence[str] = ("therapist", "client", "manifesto")) -> list[dict[str, object]]:
    """How the exemplars' groups change the learner's choice between the two frozen methods:
    cross-validated kappa with the exemplars found in no document (dealt into ``codebook-*``
    groups) and found in the seed's training documents (held out with them), against the kappa
    of each method fitted on every exemplar and scored on the test documents (at most
    ``max_test`` single-coded fragments, a seeded sample). Prints a Markdown table."""
    from benchmarks.evaluate import manifesto_dataset
    from nlp_coder.analyses.evaluate import gold_documents
    from nlp_coder.learn.choose import cross_validate
    from nlp_coder.learn.data import labelled_set

    frozen = ("frozen-centroid", "frozen-lr-chars")
    encode, _ = cached_encoder(store)
    sets = {"therapist": lambda: annomi_dataset("therapist"), "client": lambda: annomi_dataset("client"),
            "manifesto": manifesto_dataset}
    rows: list[dict[str, object]] = []
    print("| Data set | seed | exemplars found | cross-validated, no document | cross-validated, with their "
          "documents | held-out documents |\n|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in data:
            dataset = sets[name]()
            base = load_book(dataset, Path(tmp))
            codes = learnable_codes(base)
            by_id = {g.id: g for g in dataset.gold}
            for seed in range(seeds):
                split, _ = draw_split(dataset.gold, codes, k, seed)
                drawn = dict(split.exemplars)
                book = replace(base, codes=tuple(
                    replace(c, examples=tuple(by_id[i].text for i in drawn.get(c.id, ()))) for c in base.codes))
                settings = resolve_settings(book)
                trained_on = set(split.train_documents)
                documents = gold_documents([g for g in dataset.gold if g.document in trained_on])
                row: dict[str, object] = {"data": dataset.name, "seed": seed}
                for tag, labelled in (("none", labelled_set(book)),
                                      ("documents", labelled_set(book, corpus=documents))):
                    scores, _, _ = cross_validate(labelled, book, settings, encode, methods=frozen, seed=seed)
                    row[tag] = {s.method: s.kappa for s in scores}
                    row["found"] = labelled.exemplars_located
                texts = [by_id[i].text for c in codes for i in drawn[c]]
                labels = np.array([j for j, c in enumerate(codes) for _ in drawn[c]], dtype=np.int64)
                test = [g for g in dataset.gold if g.document in set(split.test_documents) and len(g.codes) == 1]
                if len(test) > max_test:
                    test = [test[i] for i in sorted(np.random.default_rng(seed).permutation(len(test))[:max_test])]
                test_texts = [g.text for g in test]
                truth = np.array([codes.index(g.codes[0]) for g in test], dtype=np.int64)
                vectors = encode(test_texts)
                centroid = centroid_fold(book, settings, codes, texts, labels, vectors, encode)
                chars = lr_chars_fold(texts, encode(texts), labels, test_texts, vectors, len(codes))
                row["held out"] = {"frozen-centroid": kappa(truth, centroid), "frozen-lr-chars": kappa(truth, chars)}
                rows.append(row)

                def pair(values: dict[str, float]) -> str:
                    a, b = (values[m] for m in frozen)
                    return " / ".join(f"**{v:.2f}**" if v == max(a, b) else f"{v:.2f}" for v in (a, b))

                found = row["found"]
                print(f"| {dataset.name} | {seed} | {found[0]} of {found[1]} | {pair(row['none'])} | "  # type: ignore[index]
                      f"{pair(row['documents'])} | {pair(row['held out'])} |", flush=True)  # type: ignore[arg-type]
    return rows


def choice_check(store: Path, k: int = 16, seeds: int = 3, max_test: int = 1000,
                 data: Sequence[str] = ("therapist", "client", "manifesto"), path: Path = CHOICE_FILE,
                 pilot: int = 0) -> None:
    """The learner's choice (``learned``, what ``suggest --learn`` does) against the frozen default
    (``centroid-def``) with K exemplars per code, per seed: the choice, its evidence and the
    held-out kappa of both. The exemplars are found in the training documents, as ``suggest``
    finds them in its corpus. One JSON line per data set is appended to ``path``."""
    from benchmarks.evaluate import manifesto_dataset
    from nlp_coder.analyses.evaluate import EvaluateOptions, evaluate_gold
    from nlp_coder.learn.artefact import find_ensemble
    from nlp_coder.learn.finetune import load_trainable

    encode, model_id = cached_encoder(store)
    ensemble, why_not = find_ensemble("default", lambda ens: cached_encoder(store, ens.model_id)[0])
    if why_not:
        print(why_not, flush=True)
    loaded: list[object] = []

    def trainable() -> object:
        if not loaded:
            loaded.append(load_trainable("default"))
        return loaded[0]

    sets = {"therapist": lambda: annomi_dataset("therapist"), "client": lambda: annomi_dataset("client"),
            "manifesto": manifesto_dataset}
    with tempfile.TemporaryDirectory() as tmp:
        for name in data:
            dataset = sets[name]()
            book = load_book(dataset, Path(tmp))
            options = EvaluateOptions(methods=("centroid-def", "learned"), seed=0, repeat=seeds, max_test=max_test,
                                      **({"pilot_documents": pilot} if pilot else {"exemplars_from_gold": k}))
            start = time.perf_counter()
            report = evaluate_gold(dataset.gold, book, encode, options, model_id=model_id, source=dataset.name,
                                   trainable=trainable, ensemble=ensemble)
            kappas = {m.method: [r.get("kappa") for r in m.runs] for m in report.methods}
            choices = [n for n in report.notes if "the learner chose" in n]
            row = {"data": dataset.name, "k": 0 if pilot else k, "pilot": pilot, "seeds": seeds, "max_test": max_test,
                   "kappa": kappas,
                   "choices": choices, "wall": round(time.perf_counter() - start, 1)}
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
            for seed, note in enumerate(choices):
                print(f"{dataset.name} {f'pilot {pilot}' if pilot else f'K={k}'} {note}: held out, frozen default "
                      f"{kappas['centroid-def'][seed]:.3f}, learned {kappas['learned'][seed]:.3f}", flush=True)


def curve_table(path: Path = CURVE_FILE) -> str:
    """The learning curve as Markdown: median kappa over the seeds per method, the gain of the
    fine-tuned model over the better frozen method, and median seconds."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    order = {p: i for i, p in enumerate(sorted(CURVE_POINTS, key=lambda p: (p[0] != "K", p[1])))}
    names = list(dict.fromkeys(r["data"] for r in rows))
    rows.sort(key=lambda r: (names.index(r["data"]), order.get((r["protocol"], r["n"]), 99)))
    lines = ["| Data set | training | labelled passages | centroid-def (default) | frozen-lr-chars | fine-tuned | "
             "fine-tuned − best frozen | fine-tuning s | fit + score s (fine-tuned / frozen-lr-chars) | load |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def med(values: Sequence[float | None]) -> float:
        present = [v for v in values if v is not None]
        return float(np.median(present)) if present else float("nan")

    for r in rows:
        k = {m: med(v) for m, v in r["kappa"].items()}
        what = f"K = {r['n']}" if r["protocol"] == "K" else f"pilot {r['n']} doc" + ("s" if r["n"] > 1 else "")
        gain = k["fine-tuned"] - max(k["centroid-def"], k["frozen-lr-chars"])
        lines.append(f"| {r['data']} | {what} | {int(med(r['exemplars']))} | {k['centroid-def']:.2f} | "
                     f"{k['frozen-lr-chars']:.2f} | {k['fine-tuned']:.2f} | {gain:+.2f} | "
                     f"{med(r['finetune_seconds']):.0f} | {med(r['seconds']['fine-tuned']):.0f} / "
                     f"{med(r['seconds']['frozen-lr-chars']):.1f} | {r['load'][0]:.1f}–{r['load'][1]:.1f} |")
    return "\n".join(lines)


def self_trained(train: np.ndarray, labels: np.ndarray, unlabelled: np.ndarray, probabilities: np.ndarray,
                 share: float) -> np.ndarray:
    """Top-1 codes of the LR head refitted with the ``share`` of the unlabelled rows it is surest
    of for each code it predicts, labelled with that code."""
    from nlp_coder.learn.choose import head_probabilities

    predicted, sure = probabilities.argmax(1), probabilities.max(1)
    chosen = []
    for code in np.unique(predicted):
        rows = np.flatnonzero(predicted == code)
        chosen.extend(rows[np.argsort(-sure[rows], kind="stable")[:max(1, int(share * len(rows)))]].tolist())
    picked = np.array(sorted(chosen), dtype=np.int64)
    return head_probabilities(np.vstack([train, unlabelled[picked]]), np.concatenate([labels, predicted[picked]]),
                              unlabelled, probabilities.shape[1]).argmax(1)


def tune(specs: Sequence[str], data: str = "therapist", k: int = 16, seeds: Sequence[int] = (0, 1, 2),
         max_test: int = 1000, store: Path = DEFAULT_STORE, threads: int | None = 1) -> list[str]:
    """Fine-tuning settings tried one at a time on one data set, the evaluation's split by
    transcript: each ``NAME:key=value,...`` changes :class:`FinetuneSettings` fields (and
    ``defs=N``: each code's definition added N times to its passages; ``freeze=word``: the word
    embeddings left as they are), and the same tuned model is scored with four heads (logistic
    regression, centroid, logistic regression on [tuned vector, character n-grams] and on
    [tuned vector, frozen vector], the LR head averaged with the frozen classifier on [vector,
    character n-grams], and the LR head self-trained on the test utterances it is surest of);
    ``frozen`` scores the frozen vectors instead. Kappa is
    measured on a seeded sample of ``max_test`` single-coded test fragments per seed. Returns
    (and prints) one ``RESULT`` line per setting."""
    import copy

    from benchmarks.evaluate import manifesto_dataset
    from nlp_coder.learn.choose import _head, head_probabilities, lr_chars_scores
    from nlp_coder.learn.finetune import encode, finetune, load_trainable
    from nlp_coder.match.matcher import definition_text

    dataset = manifesto_dataset() if data == "manifesto" else annomi_dataset(data)
    frozen, _ = cached_encoder(store)
    base_model = load_trainable("default")
    with tempfile.TemporaryDirectory() as tmp:
        book = load_book(dataset, Path(tmp))
    codes = learnable_codes(book)
    definitions = [definition_text(book.code(c)) for c in codes]
    by_id = {g.id: g for g in dataset.gold}
    splits = {}
    for seed in seeds:
        split, _ = draw_split(dataset.gold, codes, k, seed)
        drawn = dict(split.exemplars)
        texts = [by_id[i].text for c in codes for i in drawn[c]]
        labels = np.array([j for j, c in enumerate(codes) for _ in drawn[c]], dtype=np.int64)
        test = [g for g in dataset.gold if g.document in set(split.test_documents) and len(g.codes) == 1]
        if max_test and len(test) > max_test:
            pick = np.random.default_rng(1000 + seed).choice(len(test), max_test, replace=False)
            test = [test[i] for i in sorted(pick)]
        splits[seed] = (texts, labels, [g.text for g in test], np.array([codes.index(g.codes[0]) for g in test]))

    def centroid_head(train: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
        means = np.stack([train[y == j].mean(0) for j in range(len(codes))])
        return (test @ (means / np.linalg.norm(means, axis=1, keepdims=True)).T).argmax(1)

    lines = []
    for spec in specs:
        name, _, pairs = spec.partition(":")
        options = dict(item.split("=") for item in pairs.split(",") if item)
        fields = {key: type(getattr(FinetuneSettings(), key))(value) for key, value in options.items()
                  if hasattr(FinetuneSettings(), key)}
        settings = replace(FinetuneSettings(threads=threads), **fields)
        scores: dict[str, list[float]] = {}
        fits = []
        for seed in seeds:
            texts, labels, test_texts, truth = splits[seed]
            frozen_train, frozen_test = frozen(texts), frozen(test_texts)
            if name == "frozen":
                train_vectors, test_vectors = frozen_train, frozen_test
            else:
                tune_texts, tune_labels = list(texts), labels
                if options.get("defs"):
                    times = int(options["defs"])
                    tune_texts += [d for d in definitions for _ in range(times)]
                    tune_labels = np.concatenate([labels, np.repeat(np.arange(len(codes)), times)])
                model = base_model
                if options.get("freeze"):
                    model = copy.deepcopy(base_model)
                    for param_name, param in model.named_parameters():
                        if "word_embeddings" in param_name:
                            param.requires_grad = False
                tuned, run_ = finetune(model, tune_texts, tune_labels, settings=settings, seed=seed)
                fits.append(run_.seconds)
                vectors = encode(tuned, [*texts, *test_texts], seed=seed, threads=settings.threads)
                train_vectors, test_vectors = vectors[:len(texts)], vectors[len(texts):]
            probabilities = head_probabilities(train_vectors, labels, test_vectors, len(codes))
            heads = {
                "lr": probabilities.argmax(1),
                "centroid": centroid_head(train_vectors, labels, test_vectors),
                "lr-chars": lr_chars_fold(texts, train_vectors, labels, test_texts, test_vectors, len(codes)),
                "lr-tuned+frozen": _head(np.hstack([train_vectors, frozen_train]), labels,
                                         np.hstack([test_vectors, frozen_test]), len(codes)),
                # the LR head averaged with the frozen [vector, chars] classifier's probabilities
                "ensemble": (probabilities + lr_chars_scores(texts, frozen_train, labels, test_texts, frozen_test,
                                                             len(codes))).argmax(1),
                # self-training: the test utterances (unlabelled) the head is surest of, a fifth of
                # those it gives each code, added with its code, and the head refitted
                "self-training": self_trained(train_vectors, labels, test_vectors, probabilities, 0.2),
            }
            for head, predicted in heads.items():
                scores.setdefault(head, []).append(kappa(truth, predicted))
            print(f"  {name} seed {seed}: " + " ".join(f"{h}={v[-1]:.3f}" for h, v in scores.items()), flush=True)
        line = (f"RESULT {data} K={k} {spec} " + " ".join(f"{h}={np.mean(v):.3f}" for h, v in scores.items())
                + (f" fit_s={np.mean(fits):.1f}" if fits else "") + f" load={os.getloadavg()[0]:.1f}")
        print(line, flush=True)
        lines.append(line)
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("therapist", "client", "both"), default="therapist")
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=FinetuneSettings().steps)
    parser.add_argument("--no-choice", action="store_true", help="Skip the cross-validated choice (5 more fits).")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--curve", action="store_true", help="Run the learning curve (appends to --curve-file).")
    parser.add_argument("--curve-table", action="store_true", help="Print the learning curve's table.")
    parser.add_argument("--curve-file", type=Path, default=CURVE_FILE)
    parser.add_argument("--curve-data", action="append", choices=("therapist", "client", "manifesto"))
    parser.add_argument("--max-test", type=int, default=1000, help="Test fragments scored per seed (curve).")
    parser.add_argument("--threads", type=int, help="torch threads (default: the fine-tuning's default).")
    parser.add_argument("--choice", action="store_true",
                        help="The learner's choice against the frozen default, per seed, on --curve-data sets.")
    parser.add_argument("--grouping", action="store_true",
                        help="The frozen methods' cross-validated kappa with the exemplars in no document and "
                             "in their documents, against the held-out kappa (--curve-data sets).")
    parser.add_argument("--pilot", type=int, default=0, help="--choice with pilot coding of N whole documents "
                                                                  "instead of K exemplars per code.")
    parser.add_argument("--tune", action="append", metavar="NAME:key=value,...",
                        help="Try fine-tuning settings one at a time (repeatable; see tune()).")
    args = parser.parse_args(argv)
    args.store.parent.mkdir(parents=True, exist_ok=True)
    settings = replace(FinetuneSettings(), steps=args.steps, threads=args.threads)
    if args.grouping:
        grouping_check(args.store, args.k, args.seeds, data=tuple(args.curve_data or ("therapist", "client",
                                                                                       "manifesto")))
        return
    if args.choice:
        choice_check(args.store, args.k, args.seeds, args.max_test,
                     data=tuple(args.curve_data or ("therapist", "client", "manifesto")), pilot=args.pilot)
        return
    if args.curve:
        curve(args.store, args.curve_file, args.seeds, args.max_test,
              data=tuple(args.curve_data or ("therapist", "client", "manifesto")), settings=settings)
    if args.curve or args.curve_table:
        print(curve_table(args.curve_file))
        return
    if args.tune:
        tune(args.tune, "therapist" if args.data == "both" else args.data, args.k, range(args.seeds), args.max_test,
             args.store, args.threads)
        return
    speakers = ("therapist", "client") if args.data == "both" else (args.data,)
    rows = []
    for speaker in speakers:
        rows.extend(run(speaker, args.k, range(args.seeds), settings, args.store, choose=not args.no_choice))
    print(table(rows))


if __name__ == "__main__":
    main()
