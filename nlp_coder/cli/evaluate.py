"""``nlp-coder evaluate``: agreement of suggestions with human codes (library: nlp_coder.analyses.evaluate)."""

from __future__ import annotations

from pathlib import Path

import click

from nlp_coder.cli import CONTEXT, _emit, _model_option, _quiet_option, _store_option, _warn


@click.command(context_settings=CONTEXT)
@click.argument("gold", type=click.Path(path_type=Path))
@click.option("-c", "--codebook", "codebook", required=True, type=click.Path(path_type=Path),
              help="Codebook YAML file whose code ids the gold uses.")
@click.option("--format", "fmt", type=click.Choice(["json", "md"]),
              help="Report format. Default: from the --out suffix, else md.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to this file. Default: standard output.")
@click.option("--method", "methods", multiple=True, metavar="NAME",
              help="Scoring method (repeatable; the first is the headline): centroid-def (what 'suggest' does "
                   "by default), topk ('suggest --method topk'), definitions, centroid, centroid-def-loo, knn, "
                   "tfidf-lr, lr-emb, head, head-ctx, head-gate, centroid-ctx, blend; 'suggest' is what 'suggest' "
                   "does with this model (centroid-def, or topk for --model fast); 'baselines' adds it and the "
                   "four baselines, 'all' every method. Default: suggest.")
@click.option("--exemplars-from-gold", "k", type=int, default=0, show_default=True, metavar="K",
              help="Few-shot protocol: draw K exemplars per code from training documents and evaluate "
                   "only the other documents.")
@click.option("--seed", type=int, default=0, show_default=True, help="First seed of the document draw.")
@click.option("--repeat", type=int, default=1, show_default=True, help="Draws (seeds seed, seed+1, ...) to average.")
@click.option("--group-by", type=click.Choice(["document", "speaker"]), default="document", show_default=True,
              help="Split training and test fragments by this column.")
@click.option("--threshold", type=float, help="Score a code needs (default: codebook, else model).")
@click.option("--margin", type=float, help="Overlap margin (default: codebook, else model).")
@click.option("--top-k", type=int, default=3, show_default=True, help="Nearest exemplars averaged per code (topk).")
@_model_option
@_store_option
@_quiet_option
def evaluate(gold: Path, codebook: Path, fmt: str | None, out: Path | None, methods: tuple[str, ...], k: int,
             seed: int, repeat: int, group_by: str, threshold: float | None, margin: float | None, top_k: int,
             model: str, db: Path | None, quiet: bool) -> None:
    """Compare suggestions with human codes in GOLD (CSV or JSONL: id, text, codes; optional
    document, speaker, context) and report precision/recall/F1, kappa, alpha and coverage."""
    from nlp_coder.analyses.evaluate import EvaluateOptions, render_report
    from nlp_coder.analyses.evaluate import evaluate as run_evaluate
    from nlp_coder.store import resolve_store_path

    options = EvaluateOptions(model=model, methods=tuple(methods), threshold=threshold, margin=margin, top_k=top_k,
                              exemplars_from_gold=k, seed=seed, group_by=group_by, repeat=repeat)
    report = run_evaluate(gold, codebook, resolve_store_path(db), options)
    if fmt is None:
        fmt = "json" if out is not None and out.suffix.lower() == ".json" else "md"
    _emit(render_report(report, fmt), out)
    _warn(report.warnings, quiet)
    if not quiet and out is not None:
        head = report.methods[0]
        click.echo(f"{head.method}: macro-F1 {head.get('macro_f1')}, kappa {head.get('kappa')} on {report.n} "
                   f"fragments; wrote {fmt} to {out}", err=True)
