"""Analysis commands: ``discover``, ``sensitivity``, ``report``. Each parses its options, calls one
library function (:mod:`nlp_coder.run`) and prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from nlp_coder.cli.common import build_segment_options, emit, said_pseudonymised, warn
from nlp_coder.cli.options import (
    CONTEXT,
    FINITE_FLOAT,
    at_least,
    coding_options,
    corpus_argument,
    learn_options,
    output_options,
    pseudonymise_option,
    segment_options,
)


@click.command(context_settings=CONTEXT)
@corpus_argument
@click.option("-c", "--codebook", "codebook", type=click.Path(path_type=Path),
              help="Codebook YAML. Without one, every fragment is clustered (open coding).")
@output_options(("json", "md"), default="md")
@pseudonymise_option
@click.option("--yaml", "yaml_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the candidate codes as a YAML snippet to paste into the codebook.")
@click.option("--include", "selection", type=click.Choice(["uncoded", "low", "all"]),
              help="Fragments to cluster: uncoded (default with a codebook), low (uncoded or barely above "
                   "the threshold), all (default without a codebook).")
@click.option("--distance-threshold", type=FINITE_FLOAT, default=0.6, show_default=True,
              help="Clusters are not merged beyond this cosine distance; lower gives more, tighter clusters.")
@click.option("--min-cluster-size", type=at_least(2), default=4, show_default=True,
              help="Smaller clusters are left out.")
@segment_options
@coding_options
def discover(corpus: Path, codebook: Path | None, out: Path | None, fmt: str, yaml_out: Path | None,
             pseudonymise: Path | None,
             selection: str | None, distance_threshold: float, min_cluster_size: int, threshold: float | None,
             margin: float | None, model: str, method: str | None, db: Path | None, quiet: bool, metadata: Path | None,
             **segmenting: Any) -> None:
    """Cluster the text no code fits into candidate themes, with keywords and example fragments."""
    from nlp_coder.analyses.discover import (
        candidate_codes_yaml,
        discover_themes,
        discovery_as_dict,
        discovery_as_markdown,
    )
    from nlp_coder.export.formats import check_output
    from nlp_coder.export.tables import write_atomic
    from nlp_coder.privacy.pseudonymise import pseudonymiser_for
    from nlp_coder.run import SuggestOptions
    from nlp_coder.store import resolve_store_path

    check_output(yaml_out)
    pseudonymiser = pseudonymiser_for(pseudonymise, corpus, metadata, outputs=[out, yaml_out]) if pseudonymise else None
    found = discover_themes(corpus, codebook, resolve_store_path(db),
                            segment_options=build_segment_options(**segmenting),
                            options=SuggestOptions(model=model, method=method, threshold=threshold, margin=margin),
                            metadata=metadata, selection=selection, distance_threshold=distance_threshold,
                            min_cluster_size=min_cluster_size, progress=not quiet)
    if pseudonymiser is not None:
        found = pseudonymiser.walk(found)
    text = (json.dumps(discovery_as_dict(found), ensure_ascii=False, indent=2) + "\n" if fmt == "json"
            else discovery_as_markdown(found))
    if yaml_out is not None:
        write_atomic(yaml_out, candidate_codes_yaml(found))
    emit(text, out)
    warn(found.warnings, quiet)
    said_pseudonymised(pseudonymiser, quiet)
    if not quiet:
        click.echo(f"{len(found.clusters)} candidate themes from {found.candidates} {found.selection} fragments "
                   f"({found.unclustered} in no cluster)" + (f"; report in {out}" if out else ""), err=out is None)


@click.command(context_settings=CONTEXT)
@corpus_argument
@click.option("-c", "--codebook", "codebook", required=True, type=click.Path(path_type=Path),
              help="Codebook YAML file.")
@output_options(("json", "md"), default="md")
@pseudonymise_option
@click.option("--bootstrap", type=at_least(0), default=20, show_default=True,
              help="Resamples of each code's exemplars.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--compare-model", metavar="NAME", help="A second registered model to compare labels with.")
@segment_options
@coding_options
def sensitivity(corpus: Path, codebook: Path, out: Path | None, fmt: str, bootstrap: int, seed: int,
                pseudonymise: Path | None,
                compare_model: str | None, threshold: float | None, margin: float | None, model: str,
                method: str | None, db: Path | None, quiet: bool, metadata: Path | None, **segmenting: Any) -> None:
    """Test the codebook's category boundaries: threshold and margin sweeps, exemplar stability,
    competing codes with their boundary fragments, and recommendations."""
    from nlp_coder.analyses.sensitivity import (
        boundary_sensitivity,
        sensitivity_as_dict,
        sensitivity_as_markdown,
        threshold_advice_text,
    )
    from nlp_coder.privacy.pseudonymise import pseudonymiser_for
    from nlp_coder.run import SuggestOptions
    from nlp_coder.store import resolve_store_path

    options = SuggestOptions(model=model, method=method, threshold=threshold, margin=margin)
    pseudonymiser = pseudonymiser_for(pseudonymise, corpus, metadata, outputs=[out]) if pseudonymise else None
    report, texts = boundary_sensitivity(corpus, codebook, resolve_store_path(db),
                                         segment_options=build_segment_options(**segmenting), options=options,
                                         metadata=metadata, bootstrap=bootstrap, seed=seed,
                                         compare_model=compare_model, progress=not quiet)
    if pseudonymiser is not None:
        report, texts = pseudonymiser.walk(report), pseudonymiser.walk(texts)
    text = (json.dumps(sensitivity_as_dict(report), ensure_ascii=False, indent=2) + "\n" if fmt == "json"
            else sensitivity_as_markdown(report, texts))
    emit(text, out)
    warn(report.warnings, quiet)
    said_pseudonymised(pseudonymiser, quiet)
    if not quiet:
        click.echo(f"{len(report.recommendations)} recommendation(s) for {report.fragments} fragments"
                   + (f"; report in {out}" if out else ""), err=out is None)
        click.echo(f"recommended threshold: {threshold_advice_text(report)}", err=out is None)


@click.command(context_settings=CONTEXT)
@corpus_argument
@click.option("-c", "--codebook", "codebook", required=True, type=click.Path(path_type=Path),
              help="Codebook YAML file.")
@output_options(("html",), default="html", required=True)
@pseudonymise_option
@click.option("--bootstrap", type=at_least(0), default=10, show_default=True,
              help="Resamples of each code's exemplars.")
@click.option("--distance-threshold", type=FINITE_FLOAT, default=0.6, show_default=True, help="As for discover.")
@click.option("--min-cluster-size", type=at_least(2), default=4, show_default=True,
              help="As for discover.")
@click.option("--codings", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Human coding to compare with (a .qdpx or a codings CSV); default: the corpus, if a .qdpx.")
@segment_options
@coding_options
@learn_options
def report(corpus: Path, codebook: Path, out: Path, fmt: str, bootstrap: int, distance_threshold: float,
           pseudonymise: Path | None,
           min_cluster_size: int, codings: Path | None, threshold: float | None, margin: float | None, model: str,
           method: str | None, db: Path | None, quiet: bool, metadata: Path | None, learn: bool | None,
           target_precision: float, **segmenting: Any) -> None:
    """Write one self-contained HTML page (works offline) on a coded corpus: overview, codes by
    facet and attribute, a map of fragments, quotes, candidate themes, sensitivity, co-occurrence."""
    from nlp_coder.export.html import build_report
    from nlp_coder.export.tables import write_atomic
    from nlp_coder.privacy.pseudonymise import pseudonymiser_for
    from nlp_coder.run import SuggestOptions
    from nlp_coder.store import resolve_store_path

    options = SuggestOptions(model=model, method=method, threshold=threshold, margin=margin, learn=learn,
                             target_precision=target_precision)
    pseudonymiser = pseudonymiser_for(pseudonymise, corpus, metadata, outputs=[out]) if pseudonymise else None
    html = build_report(corpus, codebook, resolve_store_path(db), segment_options=build_segment_options(**segmenting),
                        options=options, metadata=metadata, bootstrap=bootstrap, distance_threshold=distance_threshold,
                        min_cluster_size=min_cluster_size, codings=codings, progress=not quiet,
                        pseudonymiser=pseudonymiser)
    write_atomic(out, html)
    said_pseudonymised(pseudonymiser, quiet)
    if not quiet:
        click.echo(f"wrote the report to {out} ({len(html) // 1024} KiB); open it in a browser")
