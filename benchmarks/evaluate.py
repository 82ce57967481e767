"""Regenerate the Evaluation section of docs/results.md from the real data in ../shared/data.

    .venv/bin/python -m benchmarks.evaluate            # full grid, rewrites docs/results.md
    .venv/bin/python -m benchmarks.evaluate --k 8 --repeat 2 --no-write   # a quick look

Data sets (read from ``benchmarks.realdata.SHARED``, never copied into the repository):

* AnnoMI therapist behaviour: therapist utterances, codes reflection / question /
  therapist_input / other; documents are transcripts; context is the previous utterance.
* AnnoMI client talk type: client utterances, codes change / neutral / sustain.
* Manifesto UK: quasi-sentences of the codes with at least 60 coded sentences, plus the
  sentences coded NA or 000 as *uncoded* gold; documents are manifestos; context is the
  previous sentence.

Codebooks are written at run time into a temporary folder: definitions only (no exemplars), the
AnnoMI ones short neutral descriptions of the MI categories written for this benchmark, the
Manifesto one from manifesto_codes.csv. Exemplars come from the gold of training documents
(:func:`nlp_coder.analyses.evaluate.evaluate_gold`, few-shot protocol). Vectors are cached in a store
(default ``out/eval-cache.db``), so re-runs embed nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from benchmarks.realdata import SHARED, annomi_utterances, manifesto_codes, manifesto_sentences
from nlp_coder.analyses.evaluate import EvaluateOptions, EvaluationReport, GoldFragment, evaluate_gold
from nlp_coder.analyses.methods import BASELINES, DEFAULT, METHODS
from nlp_coder.codebook import load_codebook
from nlp_coder.records import Codebook

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "results.md"
DEFAULT_STORE = REPO / "out" / "eval-cache.db"
KS = (4, 8, 16, 32)
SEEDS = 5
GRID_METHODS = ("centroid-def", "tfidf-lr", "definitions", "centroid", "lr-emb", "topk", "centroid-def-loo", "knn",
                "head", "head-ctx", "centroid-ctx", "blend")
"""The default (what suggest does), the four baselines, then the other candidates."""
MODEL_METHODS = ("centroid-def", "topk", "lr-emb")
"""Methods run again with each ``--also-model``."""
THRESHOLDED = ("topk", "definitions", "centroid", "centroid-def", "centroid-def-loo", "knn", "centroid-ctx", "blend")
"""The methods whose decisions use the threshold and margin (the others always assign a code)."""
MIN_SENTENCES = 60

THERAPIST_CODES = {
    "reflection": ("Reflection", "The therapist restates or rephrases what the client said or seems to mean, "
                   "as a statement rather than a question, to show understanding; it may add an inferred "
                   "feeling or meaning."),
    "question": ("Question", "The therapist asks the client a question, to gather information, invite the client "
                 "to say more, or explore the client's views, feelings or plans."),
    "therapist_input": ("Therapist input", "The therapist gives information, advice, options or feedback, or "
                        "proposes and negotiates the topic, goals or plan of the session."),
    "other": ("Other", "Therapist talk that is none of these: greetings, thanks, small talk, brief "
              "acknowledgements such as okay or mm-hmm, and remarks about the session itself."),
}
CLIENT_CODES = {
    "change": ("Change talk", "The client speaks in favour of changing the target behaviour: wanting, being "
               "able, having reasons or needing to change, committing to it, or steps already taken."),
    "neutral": ("Neutral talk", "Client talk that is neither for nor against changing the target behaviour: "
                "information, descriptions, answers and acknowledgements."),
    "sustain": ("Sustain talk", "The client speaks in favour of keeping the current behaviour: reasons not to "
                "change, doubts about changing, difficulty, or commitment to things as they are."),
}


@dataclass(frozen=True)
class Dataset:
    """One benchmark data set: gold fragments and the codebook YAML text (definitions only)."""

    name: str
    gold: tuple[GoldFragment, ...]
    codebook_yaml: str


def _codebook_yaml(name: str, codes: dict[str, tuple[str, str]]) -> str:
    return yaml.safe_dump({"name": name, "codes": [{"id": c, "name": n, "definition": d}
                                                   for c, (n, d) in codes.items()]},
                          sort_keys=False, allow_unicode=True, width=100)


def annomi_dataset(speaker: str) -> Dataset:
    """AnnoMI therapist behaviour (``speaker='therapist'``) or client talk type (``'client'``)."""
    utterances = annomi_utterances()
    gold = []
    previous: dict[str, str] = {}
    for u in utterances:
        context = previous.get(u.transcript, "")
        previous[u.transcript] = u.text
        if u.speaker != speaker:
            continue
        code = u.therapist_behaviour if speaker == "therapist" else u.client_talk_type
        if not u.text.strip() or code in {"", "n/a"}:
            continue
        gold.append(GoldFragment(f"{u.transcript}.{u.index}", u.text.strip(), (code,), document=u.transcript,
                                 speaker=u.speaker, context=context.strip()))
    if speaker == "therapist":
        return Dataset("AnnoMI therapist behaviour", tuple(gold),
                       _codebook_yaml("AnnoMI therapist behaviour", THERAPIST_CODES))
    return Dataset("AnnoMI client talk type", tuple(gold), _codebook_yaml("AnnoMI client talk type", CLIENT_CODES))


def manifesto_dataset(min_sentences: int = MIN_SENTENCES) -> Dataset:
    """Manifesto UK: the codes with ``min_sentences`` or more, NA/000 sentences as uncoded gold."""
    sentences = [s for s in manifesto_sentences() if s.text]
    counts: dict[str, int] = {}
    for s in sentences:
        counts[s.code] = counts.get(s.code, 0) + 1
    definitions = manifesto_codes()
    kept = sorted(c for c, n in counts.items() if n >= min_sentences and c not in {"NA", "000"} and c in definitions)
    gold = []
    previous = ""
    last_doc = ""
    for s in sentences:
        context = previous if s.document == last_doc else ""
        previous, last_doc = s.text, s.document
        if s.code in {"NA", "000"}:
            codes: tuple[str, ...] = ()
        elif s.code in kept:
            codes = (s.code,)
        else:
            continue
        gold.append(GoldFragment(f"{s.document}.{s.index}", s.text, codes, document=s.document, context=context))
    book = {c: definitions[c] for c in kept}
    return Dataset("Manifesto UK", tuple(gold), _codebook_yaml("Manifesto UK", book))


def datasets() -> tuple[Dataset, ...]:
    return (annomi_dataset("therapist"), annomi_dataset("client"), manifesto_dataset())


def cached_encoder(store_path: Path, model: str = "default"):  # type: ignore[no-untyped-def]
    """texts -> vectors with a registered model, through the store's cache."""
    from nlp_coder.embed.models import load_embedder
    from nlp_coder.store import Store, embed_cached

    embedder = load_embedder(model)

    def encode(texts: Sequence[str]) -> np.ndarray:
        with Store(store_path) as store:
            return embed_cached(store, embedder, list(texts))[0]

    return encode, embedder.model_id


def load_book(dataset: Dataset, folder: Path) -> Codebook:
    path = folder / f"{dataset.name.lower().replace(' ', '-')}.yaml"
    path.write_text(dataset.codebook_yaml, encoding="utf-8")
    return load_codebook(path)


def run_grid(sets: Sequence[Dataset], ks: Sequence[int], repeat: int, methods: Sequence[str], encode,  # type: ignore[no-untyped-def]
             model_id: str, seed: int = 0) -> dict[tuple[str, int], EvaluationReport]:
    reports = {}
    with tempfile.TemporaryDirectory() as tmp:
        for data in sets:
            book = load_book(data, Path(tmp))
            for k in ks:
                start = time.perf_counter()
                options = EvaluateOptions(methods=tuple(methods), exemplars_from_gold=k, seed=seed, repeat=repeat)
                reports[(data.name, k)] = evaluate_gold(data.gold, book, encode, options, model_id=model_id,
                                                        source=data.name)
                print(f"{data.name} K={k}: {time.perf_counter() - start:.1f}s", flush=True)
    return reports


def _cell(report: EvaluationReport, method: str, metric: str) -> str:
    result = next(m for m in report.methods if m.method == method)
    value, spread = result.get(metric), dict(result.spread)[metric]
    return "–" if value is None else f"{value:.2f}" + (f" ± {spread:.2f}" if spread else "")


def render_section(reports: dict[tuple[str, int], EvaluationReport], sets: Sequence[Dataset], ks: Sequence[int],
                   repeat: int, methods: Sequence[str], command: str, extra: str = "") -> str:
    lines = ["## Evaluation", "",
             "Agreement of suggestions with the human codes of public data sets (AnnoMI, Manifesto Project UK; "
             "see docs/evaluation.md for the protocol and metrics). Few-shot protocol: K exemplars per code "
             "drawn from training documents, which are never evaluated; codebooks hold definitions only "
             f"(written at run time); mean ± sd over {repeat} seeds; model all-MiniLM-L6-v2. Regenerate with:",
             "", "```", command, "```", ""]
    for data in sets:
        n_coded = sum(1 for g in data.gold if g.codes)
        n_docs = len({g.document for g in data.gold})
        first = reports[(data.name, ks[0])]
        lines += [f"### {data.name}", "",
                  f"{len(first.codes)} codes, {n_coded} coded fragments"
                  + (f" and {len(data.gold) - n_coded} uncoded (NA/000)" if len(data.gold) > n_coded else "")
                  + f" in {n_docs} documents.", ""]
        for metric, label in (("macro_f1", "macro-F1"), ("kappa", "Cohen's κ")):
            lines += [f"{label} (top-1 code):", "", "| method | " + " | ".join(f"K={k}" for k in ks) + " |",
                      "|---|" + "---|" * len(ks)]
            for method in methods:
                tag = " (default)" if method == DEFAULT else " (baseline)" if method in BASELINES else ""
                lines.append(f"| {method}{tag} | " + " | ".join(_cell(reports[(data.name, k)], method, metric)
                                                              for k in ks) + " |")
            lines.append("")
        uncoded = any(not g.codes for g in data.gold)
        lines += ["Decisions at the threshold (default 0.30, or per code for centroid-def-loo): coverage, "
                  "macro-F1 of the codes assigned" + (", and detection of the NA/000 sentences (uncoded gold)"
                                                      if uncoded else "") + ":", ""]
        metrics = ["coverage", "decision_macro_f1"] + (["uncoded_precision", "uncoded_recall"] if uncoded else [])
        labels = ["coverage", "decision macro-F1"] + (["uncoded precision", "uncoded recall"] if uncoded else [])
        lines += ["| method | K | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
        for method in (m for m in methods if m in THRESHOLDED):
            for k in ks:
                lines.append(f"| {method} | {k} | " + " | ".join(_cell(reports[(data.name, k)], method, m)
                                                             for m in metrics) + " |")
        lines.append("")
        warned = sorted({w.split(": ", 1)[1] for k in ks for w in reports[(data.name, k)].warnings})
        if warned:
            lines += ["Codes short of K candidates in the training documents (all of them used):", ""]
            lines += [f"- {w}" for w in warned[:10]] + ([f"- and {len(warned) - 10} more"] if len(warned) > 10 else [])
            lines.append("")
    if extra:
        lines += [extra.rstrip(), ""]
    return "\n".join(lines)


def models_section(sets: Sequence[Dataset], ks: Sequence[int], repeat: int,
                   base: dict[tuple[str, int], EvaluationReport], models: Sequence[str], store: Path,
                   base_model: str) -> str:
    """κ of MODEL_METHODS with other registered models, next to the default model's, same splits."""
    lines = ["### Other models", "",
             "The same protocol, seeds and splits with other registered models (`--model`); Cohen's κ of the "
             "top-1 code, mean ± sd:", "",
             "| data | model | method | " + " | ".join(f"K={k}" for k in ks) + " |", "|---|---|---|" + "---|" * len(ks)]
    runs = {base_model: base}
    for model in models:
        encode, model_id = cached_encoder(store, model)
        runs[model_id] = run_grid(sets, ks, repeat, MODEL_METHODS, encode, model_id)
    for data in sets:
        for model_id, reports in runs.items():
            for method in MODEL_METHODS:
                lines.append(f"| {data.name} | {model_id} | {method} | "
                             + " | ".join(_cell(reports[(data.name, k)], method, "kappa") for k in ks) + " |")
    return "\n".join(lines) + "\n"


def splice(section: str, path: Path = RESULTS) -> None:
    """Replace the ``## Evaluation`` section of docs/results.md (other sections are kept)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Results\n"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "## Evaluation"), None)
    if start is None:
        out = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        out = "\n".join(lines[:start] + section.rstrip("\n").splitlines() + ([""] + lines[end:] if end < len(lines)
                                                                            else [])) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, action="append", help="exemplars per code (repeatable; default 4 8 16 32)")
    parser.add_argument("--repeat", type=int, default=SEEDS, help="seeds per K (default 5)")
    parser.add_argument("--method", action="append", choices=list(METHODS), help="methods (default: GRID_METHODS)")
    parser.add_argument("--data", action="append", choices=["therapist", "client", "manifesto"])
    parser.add_argument("--db", type=Path, default=DEFAULT_STORE, help="embedding cache (default out/eval-cache.db)")
    parser.add_argument("--json", type=Path, help="also write every report as JSON here")
    parser.add_argument("--ceiling", action="store_true", help="add the AnnoMI human ceiling (benchmarks.eval_ceiling)")
    parser.add_argument("--also-model", action="append", default=[], metavar="NAME",
                        help="also run MODEL_METHODS with this registered model (repeatable), e.g. minilm-use")
    parser.add_argument("--no-write", action="store_true", help="print the section instead of updating docs/results.md")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        raise SystemExit("../shared is not present: the benchmark needs the real data")
    ks = tuple(args.k or KS)
    methods = tuple(args.method or GRID_METHODS)
    sets = datasets()
    if args.data:
        wanted = {"therapist": sets[0].name, "client": sets[1].name, "manifesto": sets[2].name}
        sets = tuple(d for d in sets if d.name in {wanted[w] for w in args.data})
    encode, model_id = cached_encoder(args.db)
    reports = run_grid(sets, ks, args.repeat, methods, encode, model_id)
    extra = ""
    if args.also_model:
        extra = models_section(sets, ks, args.repeat, reports, args.also_model, args.db, model_id)
    if args.ceiling:
        from benchmarks.eval_ceiling import ceiling_section

        extra += "\n" + ceiling_section(encode, repeat=args.repeat)
    command = "python -m benchmarks.evaluate" + ("" if ks == KS else "".join(f" --k {k}" for k in ks)) \
        + ("" if args.repeat == SEEDS else f" --repeat {args.repeat}") + (" --ceiling" if args.ceiling else "") \
        + "".join(f" --also-model {m}" for m in args.also_model)
    section = render_section(reports, sets, ks, args.repeat, methods, command, extra)
    if args.json:
        from nlp_coder.analyses.evaluate import report_dict

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({f"{name} K={k}": report_dict(r) for (name, k), r in reports.items()},
                                        indent=1, sort_keys=True), encoding="utf-8")
    if args.no_write:
        print(section)
    else:
        splice(section)
        print(f"updated {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
