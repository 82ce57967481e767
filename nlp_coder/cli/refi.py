"""Commands on human coding (REFI-QDA projects, codings CSVs): ``agree``, ``sample``, ``check``.
Each parses its options, calls one library function and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nlp_coder.cli.common import build_segment_options, emit, said_pseudonymised, warn
from nlp_coder.cli.options import (
    AT_LEAST_ONE,
    CONTEXT,
    FINITE_FLOAT,
    corpus_argument,
    method_option,
    model_option,
    output_options,
    pseudonymise_option,
    quiet_option,
    segment_options,
    store_option,
    store_text_option,
    threshold_options,
)


@click.command(context_settings=CONTEXT)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--coder", "coders", multiple=True, metavar="NAME",
              help="A coder to compare (repeat: two or more users of one project, or the coder of each of two "
                   "inputs, in order).")
@click.option("--level", type=click.Choice(["fragment", "character", "both"]), default="both", show_default=True,
              help="Compare coded fragments, characters, or both.")
@click.option("--within", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Compare only these passages: the sample .csv or .qdpx that 'nlp-coder sample' wrote "
                   "(a .qdpx sample among the inputs is used by itself).")
@click.option("--min-overlap", type=FINITE_FLOAT, default=0.5, show_default=True,
              help="Share of a fragment a coder's codings must cover for the code to count as applied.")
@output_options(("text", "csv", "json"), default="text")
@quiet_option
def agree(inputs: tuple[Path, ...], coders: tuple[str, ...], level: str, within: Path | None, min_overlap: float,
          fmt: str, out: Path | None, quiet: bool) -> None:
    """Inter-coder agreement per code and overall: percent agreement, Cohen's kappa and
    Krippendorff's alpha (nominal), at fragment and character level.

    INPUTS are one or two .qdpx projects, codings CSVs (document,start,end,code,coder) or suggest
    JSONL files (the machine as a coder)."""
    from nlp_coder.analyses.agree import measure_agreement, render_agreement

    report = measure_agreement(inputs, coders, level=level, within=within, min_overlap=min_overlap)
    text = render_agreement(report, fmt)
    emit(text, out)
    warn(report.warnings, quiet)


@click.command(context_settings=CONTEXT)
@corpus_argument
@click.option("--n", "n", type=AT_LEAST_ONE, required=True, help="Fragments to draw.")
@click.option("--stratify-by", metavar="ATTRIBUTE",
              help="Draw from each value of this document attribute in proportion to its size.")
@click.option("--seed", type=int, required=True, help="Seed of the random draw (the same seed, the same sample).")
@output_options(("csv", "qdpx"), required=True, what="a sample")
@pseudonymise_option
@click.option("-c", "--codebook", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Codebook to put in a .qdpx sample (default: the project's own when CORPUS is a .qdpx).")
@segment_options
@quiet_option
def sample(corpus: Path, n: int, stratify_by: str | None, seed: int, out: Path, fmt: str, codebook: Path | None,
           quiet: bool, metadata: Path | None, pseudonymise: Path | None, **segmenting: Any) -> None:
    """Draw a random (or stratified) sample of CORPUS's fragments for a second coder, without
    anyone's codes: a .csv to fill in (code, coder) or a .qdpx to code in a QDA tool."""
    from nlp_coder.analyses.sample import write_sample
    from nlp_coder.privacy.pseudonymise import open_key_file

    pseudonymiser = open_key_file(pseudonymise, outputs=[out]) if pseudonymise else None
    written = write_sample(corpus, out, n=n, seed=seed, stratify_by=stratify_by, codebook=codebook, fmt=fmt,
                           segment_options=build_segment_options(**segmenting), metadata=metadata,
                           pseudonymiser=pseudonymiser)
    warn(written.warnings, quiet)
    said_pseudonymised(pseudonymiser, quiet)
    if not quiet:
        drawn = written.sample
        strata = ", ".join(f"{v}: {k} of {t}" for v, t, k in drawn.strata) if stratify_by else ""
        click.echo(f"drew {len(drawn.fragments)} of {written.fragments} fragments (seed {seed})"
                   + (f" by {stratify_by}: {strata}" if strata else "") + f"; wrote {out}", err=True)


@click.command(context_settings=CONTEXT)
@click.argument("project", type=click.Path(exists=True, path_type=Path))
@click.option("-c", "--codebook", "codebook", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Codebook to check against (YAML, .qdc, or the .qdpx project itself).")
@click.option("--codings", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Human codings as a CSV (document,start,end,code,coder) when PROJECT is not a .qdpx.")
@output_options(("text", "csv", "jsonl", "qdpx"), default="text")
@pseudonymise_option
@threshold_options()
@segment_options
@model_option
@method_option
@store_option
@store_text_option
@quiet_option
def check(project: Path, codebook: Path, codings: Path | None, fmt: str, out: Path | None, pseudonymise: Path | None,
          threshold: float | None, margin: float | None, model: str, method: str | None, db: Path | None, quiet: bool,
          metadata: Path | None, **segmenting: Any) -> None:
    """Audit the human coding of PROJECT: fragments probably missed, doubtful codings, and a
    per-code summary, to review (nothing is changed). Written as text (the summary), .csv,
    .jsonl, or .qdpx (the project with each finding as a coding of the user 'nlp-coder check',
    with a note)."""
    from nlp_coder.analyses.audit import audit_summary_text, check_project
    from nlp_coder.privacy.pseudonymise import pseudonymiser_for
    from nlp_coder.run import SuggestOptions
    from nlp_coder.store import resolve_store_path

    pseudonymiser = pseudonymiser_for(pseudonymise, project, metadata, outputs=[out]) if pseudonymise else None
    report = check_project(project, codebook, resolve_store_path(db), out=out, fmt=fmt, codings=codings,
                           pseudonymiser=pseudonymiser,
                           segment_options=build_segment_options(**segmenting),
                           options=SuggestOptions(model=model, method=method, threshold=threshold, margin=margin),
                           metadata=metadata)
    warn(report.warnings, quiet)
    said_pseudonymised(pseudonymiser, quiet)
    if not quiet and fmt != "text":
        click.echo(audit_summary_text(pseudonymiser.walk(report) if pseudonymiser else report), err=True, nl=False)
