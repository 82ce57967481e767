"""``nlp-coder evaluate``: agreement of suggestions with human codes (library: nlp_coder.analyses.evaluate)."""

from __future__ import annotations

from pathlib import Path

import click

from nlp_coder.cli.common import emit, warn
from nlp_coder.cli.options import (
    AT_LEAST_ONE,
    CONTEXT,
    at_least,
    model_option,
    output_options,
    quiet_option,
    store_option,
    threshold_options,
    top_k_option,
)


@click.command(context_settings=CONTEXT)
@click.argument("gold", type=click.Path(path_type=Path))
@click.option("-c", "--codebook", "codebook", required=True, type=click.Path(path_type=Path),
              help="Codebook YAML file whose code ids the gold uses.")
@output_options(("json", "md"), default="md")
@click.option("--method", "methods", multiple=True, metavar="NAME",
              help="Scoring method (repeatable; the first is the headline): centroid-def (what 'suggest' does "
                   "by default), topk ('suggest --method topk'), definitions, centroid, centroid-def-loo, knn, "
                   "tfidf-lr, lr-emb, head, head-ctx, head-gate, centroid-ctx, blend; with --learn also learned, "
                   "fine-tuned, frozen-lr-chars; 'baselines' adds centroid-def and the four baselines, 'all' "
                   "every method. Default: centroid-def (with --learn: learned and its candidates).")
@click.option("--learn", "learn", is_flag=True,
              help="Evaluate as suggest does when it learns the codebook: the headline is the learner's choice "
                   "(cross-validated on the training exemplars), with the model fine-tuned on them, never on "
                   "the evaluated documents.")
@click.option("--exemplars-from-gold", "k", type=at_least(0), default=0, show_default=True, metavar="K",
              help="Few-shot protocol: draw K exemplars per code from training documents and evaluate "
                   "only the other documents.")
@click.option("--pilot-documents", "pilot", type=at_least(0), default=0, show_default=True, metavar="N",
              help="Pilot-coding protocol: take N documents coded whole as the exemplars and evaluate "
                   "only the other documents.")
@click.option("--seed", type=int, default=0, show_default=True, help="First seed of the document draw.")
@click.option("--repeat", type=AT_LEAST_ONE, default=1, show_default=True,
              help="Draws (seeds seed, seed+1, ...) to average.")
@click.option("--group-by", type=click.Choice(["document", "speaker"]), default="document", show_default=True,
              help="Split training and test fragments by this column.")
@threshold_options(threshold="Score a code needs (default: codebook, else model).",
                   margin="Overlap margin (default: codebook, else model).")
@top_k_option("Nearest exemplars averaged per code (topk).")
@model_option
@store_option
@quiet_option
def evaluate(gold: Path, codebook: Path, fmt: str, out: Path | None, methods: tuple[str, ...], learn: bool, k: int,
             pilot: int, seed: int, repeat: int, group_by: str, threshold: float | None, margin: float | None,
             top_k: int, model: str, db: Path | None, quiet: bool) -> None:
    """Compare suggestions with human codes in GOLD (CSV or JSONL: id, text, codes; optional
    document, speaker, context) and report precision/recall/F1, kappa, alpha and coverage."""
    from nlp_coder.analyses.evaluate import EvaluateOptions, render_report
    from nlp_coder.analyses.evaluate import evaluate as run_evaluate
    from nlp_coder.analyses.methods import BASELINES, DEFAULT, FROZEN_METHODS
    from nlp_coder.store import resolve_store_path

    chosen: list[str] = []
    if learn:
        chosen = list(methods)  # the library expands them with the learner's methods
    for name in () if learn else methods or (DEFAULT,):
        expand = {"all": FROZEN_METHODS, "baselines": (DEFAULT, *BASELINES)}.get(name, (name,))
        chosen.extend(m for m in expand if m not in chosen)
    options = EvaluateOptions(model=model, methods=tuple(chosen), threshold=threshold, margin=margin, top_k=top_k,
                              exemplars_from_gold=k, seed=seed, group_by=group_by, repeat=repeat,
                              pilot_documents=pilot, learn=learn)
    report = run_evaluate(gold, codebook, resolve_store_path(db), options)
    emit(render_report(report, fmt), out)
    warn(report.warnings, quiet)
    if not quiet and out is not None:
        head = report.methods[0]
        click.echo(f"{head.method}: macro-F1 {head.get('macro_f1')}, kappa {head.get('kappa')} on {report.n} "
                   f"fragments; wrote {fmt} to {out}", err=True)
