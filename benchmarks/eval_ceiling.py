"""Human ceiling on AnnoMI: the 7 transcripts coded by all 10 annotators (AnnoMI-full.csv).

On the same utterances: mean pairwise Cohen's kappa between annotators (45 pairs), next to the
mean kappa between the machine's top-1 code and each annotator. The machine's exemplars (K per
code) are drawn from the *other* transcripts of AnnoMI-simple.csv, so no evaluated transcript
gives exemplars. Used by ``python -m benchmarks.evaluate --ceiling``; on its own::

    .venv/bin/python -m benchmarks.eval_ceiling
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.evaluate import CLIENT_CODES, DEFAULT_STORE, THERAPIST_CODES, annomi_dataset, cached_encoder, load_book
from benchmarks.realdata import annomi_full
from nlp_coder.analyses.evaluate import EvaluateOptions, GoldFragment, build_inputs, evaluated_codes, headline
from nlp_coder.analyses.methods import METHODS

KS = (16, 32)
CEILING_METHODS = ("topk", "centroid-def", "head")


@dataclass(frozen=True)
class Ceiling:
    """Agreement on the multiply-coded utterances of one AnnoMI codebook."""

    task: str
    utterances: int
    annotators: int
    human_kappa: float
    human_kappa_min: float
    human_kappa_max: float
    human_alpha: float
    machine: tuple[tuple[str, int, float, float], ...]  # method, K, mean kappa vs annotators, sd over seeds


def _kappa(a: Sequence[str], b: Sequence[str]) -> float:
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(a, b))


def ceiling(speaker: str, encode, ks: Sequence[int] = KS, repeat: int = 5,  # type: ignore[no-untyped-def]
            methods: Sequence[str] = CEILING_METHODS) -> Ceiling:
    import krippendorff

    rows = [r for r in annomi_full() if r.speaker == speaker]
    by_transcript: dict[str, set[str]] = {}
    for r in rows:
        by_transcript.setdefault(r.transcript, set()).add(r.annotator)
    multi = {t for t, a in by_transcript.items() if len(a) > 1}
    label = (lambda r: r.therapist_behaviour) if speaker == "therapist" else (lambda r: r.client_talk_type)
    table: dict[tuple[str, int], dict[str, str]] = {}
    texts: dict[tuple[str, int], str] = {}
    for r in rows:
        if r.transcript in multi and label(r) not in {"", "n/a"}:
            table.setdefault((r.transcript, r.index), {})[r.annotator] = label(r)
            texts[(r.transcript, r.index)] = r.text.strip()
    annotators = sorted({a for v in table.values() for a in v})
    items = sorted(k for k, v in table.items() if len(v) == len(annotators))
    human = {a: [table[i][a] for i in items] for a in annotators}
    pairs = [_kappa(human[a], human[b]) for a, b in itertools.combinations(annotators, 2)]
    codes_order = list(THERAPIST_CODES if speaker == "therapist" else CLIENT_CODES)
    alpha = krippendorff.alpha(reliability_data=np.array([[codes_order.index(human[a][j]) for j in range(len(items))]
                                                          for a in annotators], dtype=float),
                               level_of_measurement="nominal")
    data = annomi_dataset(speaker)
    pool = [g for g in data.gold if g.document not in multi]
    test = [GoldFragment(f"{t}.{i}", texts[(t, i)], (), document=t) for t, i in items]
    machine = []
    with tempfile.TemporaryDirectory() as tmp:
        book = load_book(data, Path(tmp))
        codes = evaluated_codes(book, data.gold)
        _, settings = headline(book, EvaluateOptions())  # what suggest decides with
        all_texts = list(dict.fromkeys([*(g.text for g in pool), *(g.context for g in pool if g.context),
                                        *(g.text for g in test), *(f"{book.code(c).name}. {book.code(c).definition}"
                                                                  for c in codes)]))
        matrix = encode(all_texts)
        row = {t: i for i, t in enumerate(all_texts)}
        zero = np.zeros(matrix.shape[1], dtype=np.float32)

        def lookup(ts: Sequence[str]) -> np.ndarray:
            return np.stack([matrix[row[t]] if t else zero for t in ts]) if ts else np.zeros((0, len(zero)), np.float32)

        for k in ks:
            for method in methods:
                kappas = []
                for seed in range(repeat):
                    rng = np.random.default_rng(seed)
                    drawn = {}
                    for code in codes:
                        cands = sorted((g for g in pool if g.codes == (code,)), key=lambda g: g.id)
                        drawn[code] = [cands[i] for i in sorted(rng.permutation(len(cands))[:k])]
                    training, testing = build_inputs(book, codes, drawn, test, lookup, settings, seed)
                    scores = METHODS[method](training, testing).scores
                    top1 = [codes[j] for j in np.argsort(-np.round(scores, 6), axis=1, kind="stable")[:, 0]]
                    kappas.append(float(np.mean([_kappa(top1, human[a]) for a in annotators])))
                spread = float(np.std(kappas, ddof=1)) if repeat > 1 else 0.0
                machine.append((method, k, float(np.mean(kappas)), spread))
    return Ceiling("therapist behaviour" if speaker == "therapist" else "client talk type", len(items),
                   len(annotators), float(np.mean(pairs)), float(min(pairs)), float(max(pairs)), float(alpha),
                   tuple(machine))


def ceiling_section(encode, repeat: int = 5, ks: Sequence[int] = KS) -> str:  # type: ignore[no-untyped-def]
    lines = ["### Human ceiling (AnnoMI, 7 transcripts coded by all 10 annotators)", "",
             "Mean pairwise Cohen's κ between the 10 annotators (45 pairs; range in brackets) and Krippendorff's α "
             "among them, next to the mean κ between the machine's top-1 code and each annotator on the same "
             f"utterances. Machine exemplars: K per code from the other 126 transcripts, mean ± sd over {repeat} "
             "seeds.", "",
             "| codebook | utterances | human–human κ | human α | machine | K | machine–human κ |",
             "|---|---|---|---|---|---|---|"]
    for speaker in ("therapist", "client"):
        c = ceiling(speaker, encode, ks, repeat)
        for n, (method, k, kappa, sd) in enumerate(c.machine):
            head = (f"| {c.task} | {c.utterances} | {c.human_kappa:.2f} ({c.human_kappa_min:.2f}–"
                    f"{c.human_kappa_max:.2f}) | {c.human_alpha:.2f} |") if n == 0 else "| | | | |"
            lines.append(f"{head} {method} | {k} | {kappa:.2f} ± {sd:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    enc, _ = cached_encoder(DEFAULT_STORE)
    print(ceiling_section(enc))
