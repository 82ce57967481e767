"""``nlp-coder review``: the local review page (:mod:`nlp_coder.review`). The command parses its
options, opens the review (:func:`nlp_coder.review.open_review`) and serves it, or exports it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nlp_coder.cli.common import build_segment_options, said_pseudonymised, warn
from nlp_coder.cli.options import (
    CONTEXT,
    FINITE_FLOAT,
    at_least,
    corpus_argument,
    method_option,
    model_option,
    pseudonymise_option,
    quiet_option,
    segment_options,
    store_option,
    target_precision_option,
    threshold_options,
)


@click.command(context_settings=CONTEXT)
@corpus_argument
@click.option("-c", "--codebook", "codebook", required=True, type=click.Path(path_type=Path),
              help="Codebook: YAML, or a REFI-QDA .qdc codebook or .qdpx project.")
@click.option("--reviewer", default="reviewer", show_default=True, metavar="NAME",
              help="Your name: your decisions are stored, and exported, under it.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: a free one).")
@click.option("--no-browser", "no_browser", is_flag=True, help="Do not open the page in a browser; only print its URL.")
@click.option("--export", "export", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the review (your codings, the remaining suggestions, the flags) to this .csv or .qdpx "
                   "and exit, without serving the page.")
@pseudonymise_option
@click.option("--refit-every", type=at_least(0), default=20, show_default=True,
              help="Refit the suggestions on your decisions after this many (0: never).")
@click.option("--random-share", type=FINITE_FLOAT, default=0.25, show_default=True,
              help="Share of the queue drawn at random (the rest: the least certain fragments); the random draws "
                   "estimate the precision.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random draws.")
@click.option("--learn/--no-learn", "learn", default=True, show_default=True,
              help="Start from the codebook learned from its exemplars (the method chosen by cross-validation, "
                   "fine-tuned where that agrees better; kept in the store for the next start). --no-learn: "
                   "the frozen default.")
@target_precision_option
@segment_options
@threshold_options(threshold="Score a code needs to be suggested (default: codebook, else model).",
                   margin="Codes within this of the best are an overlap (default: codebook, else model).")
@model_option
@method_option
@store_option
@quiet_option
def review(corpus: Path, codebook: Path, reviewer: str, port: int, no_browser: bool, export: Path | None,
           refit_every: int, random_share: float, seed: int, learn: bool, target_precision: float,
           threshold: float | None, margin: float | None,
           model: str, method: str | None, db: Path | None, quiet: bool, metadata: Path | None,
           pseudonymise: Path | None, **segmenting: Any) -> None:
    """Review the suggestions for CORPUS on a local web page: accept, reject or recode them, one
    fragment at a time; the suggestions learn from your decisions."""
    from nlp_coder.review import ReviewOptions, export_review, open_review
    from nlp_coder.run import SuggestOptions
    from nlp_coder.store import resolve_store_path

    if pseudonymise is not None and export is None:
        raise click.UsageError("--pseudonymise applies to --export only: the review page shows the transcripts "
                               "as they are, on this computer")
    if export is not None:
        from nlp_coder.review.export import check_export

        check_export(export)  # before the corpus is coded
    pseudonymiser = None
    if pseudonymise is not None:
        from nlp_coder.privacy.pseudonymise import open_key_file

        pseudonymiser = open_key_file(pseudonymise, outputs=[export])
    store = resolve_store_path(db)
    session = open_review(corpus, codebook, store, metadata=metadata, progress=not quiet,
                          options=ReviewOptions(reviewer=reviewer, refit_every=refit_every, random_share=random_share,
                                                seed=seed),
                          suggest_options=SuggestOptions(model=model, method=method, threshold=threshold,
                                                         margin=margin, learn=learn,
                                                         target_precision=target_precision),
                          segment_options=build_segment_options(**segmenting))
    try:
        warn(session.notes, quiet)
        progress = session.progress()
        if export is not None:
            written = export_review(session, export, pseudonymiser=pseudonymiser)
            said_pseudonymised(pseudonymiser, quiet)
            if not quiet:
                click.echo(f"wrote {written} codings to {export}: {progress.decided} fragments reviewed by "
                           f"{reviewer}, {progress.fragments - progress.decided} with the machine's suggestions")
            return
        from nlp_coder.review.app import serve

        def announce(url: str) -> None:
            click.echo(f"{progress.decided} of {progress.fragments} fragments reviewed by {reviewer}; decisions "
                       f"are stored in {store}")
            click.echo(f"review page: {url}")
            click.echo("press Ctrl-C to stop")

        serve(session, port=port, open_browser=not no_browser, announce=announce)
    finally:
        session.store.close()
