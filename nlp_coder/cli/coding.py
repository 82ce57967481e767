"""Coding commands: ``suggest``, ``segment``, ``embed``. Each parses its options, calls one
library function (:mod:`nlp_coder.run`) and prints."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from nlp_coder.cli.common import build_segment_options, cluster_embedder, emit, said_pseudonymised, warn
from nlp_coder.cli.options import (
    AT_LEAST_ONE,
    CONTEXT,
    cascade_options,
    corpus_argument,
    device_option,
    learn_options,
    method_option,
    model_option,
    output_options,
    pseudonymise_option,
    quiet_option,
    scheduler_option,
    segment_options,
    store_option,
    store_text_option,
    strict_option,
    threshold_options,
    top_k_option,
    verbose_option,
)


@click.command(context_settings=CONTEXT)
@corpus_argument
@click.option("-c", "--codebook", "codebook", required=True, type=click.Path(path_type=Path),
              help="Codebook: YAML (docs/codebook.md), or a REFI-QDA .qdc codebook or .qdpx project.")
@output_options(("jsonl", "csv", "json", "md", "qdpx"), default="jsonl")
@pseudonymise_option
@segment_options
@threshold_options(threshold="Score a code needs to be suggested (default: codebook, else model).",
                   margin="Codes within this of the best are an overlap (default: codebook, else model).")
@top_k_option()
@click.option("--suggestions", type=AT_LEAST_ONE, default=3, show_default=True,
              help="Suggestions listed per fragment.")
@click.option("--where", "where", multiple=True, metavar="CODE",
              help="Output only fragments assigned this code (repeatable: all must hold, e.g. "
                   "--where positive-feedback --where clinical). The store keeps every fragment.")
@click.option("--train-from", "train_from", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Learn from pilot coding (a .qdpx project, or a codings CSV on the corpus): coded passages "
                   "become exemplars, a classifier per code is fitted and its threshold calibrated.")
@learn_options
@click.option("--from-review", "from_review", metavar="NAME",
              help="Learn from NAME's review decisions on this codebook too (nlp-coder review), read from the "
                   "project store; turns learning on.")
@model_option
@method_option
@device_option
@scheduler_option
@cascade_options
@store_option
@store_text_option
@strict_option
@verbose_option
@quiet_option
def suggest(corpus: Path, codebook: Path, out: Path | None, fmt: str, threshold: float | None,
            margin: float | None, top_k: int, suggestions: int, where: tuple[str, ...], model: str, method: str | None,
            db: Path | None, quiet: bool, metadata: Path | None, device: str, scheduler: str | None,
            pseudonymise: Path | None,
            cascade: float | None, cascade_band: float | None, train_from: Path | None, learn: bool | None,
            target_precision: float, from_review: str | None, strict: bool, verbose: bool,
            **segmenting: Any) -> None:
    """Suggest codes for every fragment of CORPUS (a transcript, a folder, or a fragment table)."""
    from nlp_coder.export.formats import SuggestionWriter
    from nlp_coder.privacy.pseudonymise import pseudonymiser_for
    from nlp_coder.run import DEFAULT_BATCH, SuggestOptions
    from nlp_coder.run import suggest as run_suggest
    from nlp_coder.store import resolve_store_path

    store = resolve_store_path(db)
    if fmt == "qdpx" and out is None:
        raise click.BadParameter("a .qdpx project is written to a file: give --out FILE.qdpx", param_hint="--format")
    # On a cluster, a batch must keep every worker busy: 1024 texts (16 tasks of 64).
    batch_size = 1024 if scheduler else DEFAULT_BATCH
    with contextlib.ExitStack() as stack:
        # JSONL is written as the corpus streams through, a chunk at a time; other formats once the
        # run is done. The file appears only complete, and a run whose output fails has failed.
        pseudonymiser = pseudonymiser_for(pseudonymise, corpus, metadata, outputs=[out]) if pseudonymise else None
        writer = stack.enter_context(SuggestionWriter(out, fmt, corpus=corpus, where=where, codebook=codebook,
                                                      pseudonymiser=pseudonymiser))
        embedder = cluster_embedder(stack, scheduler, model, device, batch_size)
        result = run_suggest(
            corpus, codebook, store,
            segment_options=build_segment_options(**segmenting),
            options=SuggestOptions(model=model, method=method, threshold=threshold, margin=margin, top_k=top_k,
                                   suggestions=suggestions, device=device, cascade=cascade, cascade_band=cascade_band,
                                   train_from=str(train_from) if train_from else None, batch_size=batch_size,
                                   learn=learn, target_precision=target_precision, from_review=from_review),
            metadata=metadata, progress=not quiet, sink=writer.sink, keep_results=writer.keep_results,
            embedder=embedder, finish=writer.finish, strict=strict,
        )
    assert result.summary is not None
    warn(result.segmentation.warnings, quiet)
    said_pseudonymised(pseudonymiser, quiet)
    if not quiet:
        click.echo(result.summary.as_text(), err=out is None)
        print_reading(result.segmentation.reading, verbose, err=out is None)
        selection = f" (of {result.summary.fragments}, where {' and '.join(where)})" if where else ""
        noun = "fragment" if writer.written == 1 else "fragments"
        where_to = (f"wrote {writer.written} {noun}{selection} ({fmt}) to {out}" if out
                    else "results on standard output")
        click.echo(f"{where_to}; run {result.run_id} recorded in {store} "
                   f"(fragments: {result.embedded} texts embedded, {result.cached} from cache)", err=out is None)
        if result.training is not None:
            from nlp_coder.match.train import training_text

            click.echo(training_text(result.training), err=out is None)
        if result.cascade is not None:
            c = result.cascade
            click.echo(f"cascade: {c.fast_model} scored {c.fragments} fragments; {c.full_model} re-scored "
                       f"{c.rescored} ({c.share:.0%}), {c.changed} of them changed decision; "
                       f"{c.mapped} decided through the learned map", err=out is None)


@click.command(context_settings=CONTEXT)
@corpus_argument
@output_options(("jsonl", "csv", "json", "md"), default="jsonl")
@pseudonymise_option
@segment_options
@strict_option
@verbose_option
@quiet_option
def segment(corpus: Path, out: Path | None, fmt: str, quiet: bool, metadata: Path | None, pseudonymise: Path | None,
            strict: bool, verbose: bool, **segmenting: Any) -> None:
    """Cut CORPUS into fragments and print them with their exact offsets (nothing is coded)."""
    from nlp_coder.export.tables import render_fragments
    from nlp_coder.run import read_and_segment

    seg = read_and_segment(corpus, build_segment_options(**segmenting), metadata, strict=strict)
    fragments = seg.fragments
    if pseudonymise:
        from nlp_coder.privacy.pseudonymise import pseudonymiser_for

        pseudonymiser = pseudonymiser_for(pseudonymise, seg.documents, outputs=[out])
        fragments = pseudonymiser.walk(fragments)
    emit(render_fragments(fragments, fmt), out)
    warn(seg.warnings, quiet)
    if pseudonymise:
        said_pseudonymised(pseudonymiser, quiet)
    if not quiet:
        click.echo(f"{len(seg.fragments)} fragment{'s' if len(seg.fragments) != 1 else ''} from "
                   f"{len(seg.documents)} document{'s' if len(seg.documents) != 1 else ''} "
                   f"(sentences by {seg.pipeline})", err=True)
        print_reading(seg.reading, verbose, err=True)


@click.command(context_settings=CONTEXT)
@corpus_argument
@segment_options
@model_option
@device_option
@scheduler_option
@store_option
@store_text_option
@click.option("--batch-size", type=AT_LEAST_ONE, default=256, show_default=True,
              help="Texts embedded and committed per batch (on a cluster: at least 64 x its worker threads).")
@strict_option
@quiet_option
def embed(corpus: Path, model: str, db: Path | None, batch_size: int, quiet: bool, metadata: Path | None,
          device: str, scheduler: str | None, strict: bool, **segmenting: Any) -> None:
    """Embed CORPUS's fragments into the project store's cache, so later runs are fast."""
    from nlp_coder.run import embed_corpus
    from nlp_coder.store import resolve_store_path

    store = resolve_store_path(db)
    with contextlib.ExitStack() as stack:
        embedder = cluster_embedder(stack, scheduler, model, device, batch_size)
        done = embed_corpus(corpus, store, segment_options=build_segment_options(**segmenting), model=model,
                            metadata=metadata, batch_size=batch_size, progress=not quiet, device=device,
                            embedder=embedder, strict=strict)
    warn(done.segmentation.warnings, quiet)
    if not quiet:
        click.echo(f"{len(done.segmentation.fragments)} fragments: {done.embedded} texts embedded, "
                   f"{done.cached} already cached, in {store}")


def print_reading(reading: Any, verbose: bool, *, err: bool) -> None:
    """The reading report: a line per file, or every detail with ``--verbose``."""
    if reading is None or not reading.files:
        return
    files = len(reading.files)
    click.echo(f"read {files} file{'s' if files != 1 else ''}:", err=err)
    click.echo(reading.table(verbose=verbose), err=err)
