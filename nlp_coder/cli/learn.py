"""``nlp-coder learn``: compare ways of coding with a codebook by cross-validation on its
labelled passages (fine-tuning among them) and say which to use and what to expect. It parses
its options, calls :func:`nlp_coder.learn.learn` and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nlp_coder.cli.common import build_segment_options, emit, warn
from nlp_coder.cli.options import (
    CONTEXT,
    FINITE_FLOAT,
    at_least,
    corpus_argument,
    model_option,
    output_options,
    quiet_option,
    segment_options,
    store_option,
    target_precision_option,
)


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise click.BadParameter(f"{value} is not a positive number of seconds.", ctx, param)
    return value


@click.command(context_settings=CONTEXT)
@corpus_argument
@click.option("-c", "--codebook", "codebook", required=True, type=click.Path(path_type=Path),
              help="Codebook: YAML (docs/codebook.md), or a REFI-QDA .qdc codebook or .qdpx project.")
@click.option("--from", "codings", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="CODINGS",
              help="Pilot coding to learn from too: a .qdpx project, or a codings CSV on the corpus "
                   "(document,start,end,code,coder).")
@click.option("--from-review", "reviewer", metavar="NAME",
              help="Learn from NAME's review decisions on this codebook too (nlp-coder review), read from the "
                   "project store.")
@click.option("--seed", type=at_least(0), default=0, show_default=True,
              help="Seed of the folds, the training batches and dropout (same seed, same result on this CPU).")
@click.option("--time-budget", "time_budget", type=FINITE_FLOAT, metavar="SECONDS", callback=_positive,
              help="Seconds for all the fine-tuning; it stops early, and says so, when they run out.")
@target_precision_option
@output_options(("json",), default="json")
@segment_options
@model_option
@store_option
@quiet_option
def learn(corpus: Path, codebook: Path, codings: Path | None, reviewer: str | None, seed: int,
          time_budget: float | None, target_precision: float, out: Path | None, fmt: str, model: str,
          db: Path | None, quiet: bool, metadata: Path | None, **segmenting: Any) -> None:
    """Choose how to code with a codebook: frozen centroid, classifier (each on the model or its
    ensemble), or fine-tuned model, by cross-validation on its exemplars (and pilot coding),
    calibrate each code's threshold, keep the model in the store for suggest --learn, and print
    what to expect."""
    import json

    from nlp_coder.learn import learn as run_learn
    from nlp_coder.learn import report_text
    from nlp_coder.store import resolve_store_path

    report = run_learn(corpus, codebook, codings=codings, model=model, seed=seed, time_budget=time_budget,
                       store=resolve_store_path(db), metadata=metadata, target_precision=target_precision,
                       segment=build_segment_options(**segmenting), progress=not quiet, reviewer=reviewer)
    warn(list(report.warnings), quiet)
    click.echo(report_text(report))
    if out is not None:
        emit(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n", out)
        if not quiet:
            click.echo(f"wrote the report (json) to {out}", err=True)
