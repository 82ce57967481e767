"""The ``nlp-coder`` command line: each command parses its options and calls one library function.

Heavy libraries (sentence-transformers, torch, spaCy) are imported inside the commands that
need them, so ``nlp-coder --help`` answers at once.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from nlp_coder import __version__
from nlp_coder.errors import NlpCoderError
from nlp_coder.records import DEFAULT_METHOD, METHODS

if TYPE_CHECKING:
    from nlp_coder.match.matcher import Decisions

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _OneLineUsageError(click.UsageError):
    """A usage error shown as one line (with where to find help), not click's usage block."""

    def show(self, file: Any = None) -> None:
        where = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"Error: {self.format_message()}{where}", err=True, file=file)


class _Group(click.Group):
    """Turns the errors users can fix into one line on stderr: exit status 1 for bad input,
    2 for a mistyped command line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NlpCoderError as exc:
            raise click.ClickException(str(exc)) from None
        except _OneLineUsageError:
            raise
        except click.UsageError as exc:
            raise _OneLineUsageError(exc.format_message(), exc.ctx) from None


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="nlp-coder")
def main() -> None:
    """Pre-code interview transcripts against a codebook, for human review.

    Fragments of respondent talk are matched against the codebook's exemplar quotes and
    definitions; each gets suggested codes with a score and a reason (the nearest exemplar), and
    a status: coded, overlap (several codes fit) or uncoded (no code fits). Everything runs
    locally; nothing is sent anywhere.
    """


def _segment_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that reads and segments a corpus."""
    options = [
        click.option("--unit", type=click.Choice(["sentence", "turn", "window"]), default="sentence",
                     show_default=True,
                     help="Fragment size: one sentence, one speaker turn, or a window of sentences."),
        click.option("--window", type=int, default=3, show_default=True,
                     help="Sentences per window (--unit window)."),
        click.option("--stride", type=int, default=1, show_default=True,
                     help="Sentences a window moves (--unit window)."),
        click.option("--min-words", type=int, default=3, show_default=True,
                     help="Shorter fragments (backchannels like 'Yeah.') merge with a neighbour in the same turn "
                          "or are skipped."),
        click.option("--speaker", "speakers", multiple=True, metavar="LABEL",
                     help="Code only this speaker (repeatable). Default: everyone but a recognised interviewer."),
        click.option("--exclude-speaker", "exclude_speakers", multiple=True, metavar="LABEL",
                     help="Never code this speaker (repeatable)."),
        click.option("--interviewer", "interviewers", multiple=True, metavar="LABEL",
                     help="Labels that mark the interviewer (repeatable); replaces the built-in list "
                          "(Interviewer, I, Int, Q, Moderator, Researcher, Therapist, ...)."),
        click.option("--all-speakers", is_flag=True, help="Code the interviewer's turns too."),
        click.option("--spacy", "pipeline", default="auto", show_default=True, metavar="NAME",
                     help="spaCy pipeline for sentences: auto (trained if installed), blank, or a pipeline name."),
        click.option("--metadata", type=click.Path(dir_okay=False, path_type=Path),
                     help="CSV of per-document attributes (default: metadata.csv in the corpus folder)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _build_segment_options(unit: str, window: int, stride: int, min_words: int, speakers: tuple[str, ...],
                           exclude_speakers: tuple[str, ...], interviewers: tuple[str, ...], all_speakers: bool,
                           pipeline: str) -> Any:
    from nlp_coder.segment import DEFAULT_INTERVIEWER_LABELS, SegmentOptions

    return SegmentOptions(unit=unit, window=window, stride=stride, min_words=min_words, speakers=speakers,
                          exclude_speakers=exclude_speakers,
                          interviewer_labels=interviewers or DEFAULT_INTERVIEWER_LABELS,
                          all_speakers=all_speakers, pipeline=pipeline)


def _store_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-d", "--db", "db", type=click.Path(dir_okay=False, path_type=Path), envvar="NLP_CODER_DB",
                        help="Project store (SQLite). Default: $NLP_CODER_DB, else .nlp-coder/store.db here.")(func)


def _model_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-m", "--model", default="default", show_default=True,
                        help="Embedding model from the registry (see 'nlp-coder models').")(func)


def _method_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--method", type=click.Choice(METHODS), default=None,
                        help="How a code's exemplars score a fragment: centroid = similarity to their mean, "
                             "topk = mean of the top-k most similar (docs/evaluation.md). Default: the model's "
                             f"(topk for --model fast), else {DEFAULT_METHOD}.")(func)


# -- speed options (nlp_coder.match.cascade): --device on suggest/embed, --cascade on suggest ----------------
def _device_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True,
                        help="Where the model runs: auto = a CUDA GPU when torch sees one, else the CPU.")(func)


def _scheduler_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--scheduler", metavar="ADDRESS",
                        help="Embed on a Dask cluster: its scheduler's address (tcp://host:8786) or scheduler "
                             "file, or 'local' for one on this machine. Needs the dask extra "
                             "(docs/distributed.md).")(func)


def _cluster_embedder(stack: contextlib.ExitStack, scheduler: str | None, model: str, device: str,
                      batch_size: int) -> Any:
    """The Dask embedder for ``--scheduler`` (closed with ``stack``), or None to embed here."""
    if scheduler is None:
        return None
    from nlp_coder.embed.dask import load_dask_embedder

    return stack.enter_context(load_dask_embedder(model, scheduler, batch_size=min(batch_size, 128), device=device))


def _cascade_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--cascade-band", type=float, metavar="SCORE",
                        help="With --cascade: re-score only fragments whose fast-model lead or distance "
                             "to the threshold is below SCORE.")(func)
    return click.option("--cascade", type=float, metavar="SHARE", is_flag=False, flag_value=0.3,
                        help="Score everything with the fast model, then re-score with --model the "
                             "least certain fragments, at most SHARE of them (--cascade alone: 0.3).")(func)
# -- end of speed options ------------------------------------------------------------------------


def _coding_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the commands that code the corpus as ``suggest`` does before their own work."""
    for option in reversed([
        click.option("--threshold", type=float, help="As for suggest."),
        click.option("--margin", type=float, help="As for suggest."),
        _model_option, _method_option, _store_option, _quiet_option,
    ]):
        func = option(func)
    return func


def _output_options(func: Callable[..., Any] | None = None, *, extra: tuple[str, ...] = ()) -> Any:
    if func is None:  # used as @_output_options(extra=("qdpx",))
        return lambda f: _output_options(f, extra=extra)
    func = click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "json", "md", *extra]),
                        help="Output format. Default: from the --out suffix, else jsonl.")(func)
    return click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
                        help="Write to this file (written whole or not at all). Default: standard output.")(func)


def _quiet_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-q", "--quiet", is_flag=True, help="No progress bar, summary or warnings.")(func)


def _format_for(out: Path | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = out.suffix.lower().lstrip(".") if out else ""
    return {"jsonl": "jsonl", "csv": "csv", "json": "json", "md": "md", "markdown": "md",
            "qdpx": "qdpx"}.get(suffix, "jsonl")


def _emit(text: str, out: Path | None) -> None:
    from nlp_coder.export.tables import write_atomic

    if out is None:
        click.echo(text, nl=False)
    else:
        write_atomic(out, text)


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield None


def _warn(warnings: tuple[str, ...], quiet: bool) -> None:
    if not quiet:
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)


def _corpus_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("corpus", type=click.Path(exists=True, path_type=Path))(func)


@main.command(context_settings=CONTEXT)
@_corpus_argument
@click.option("-c", "--codebook", "codebook", required=True, type=click.Path(path_type=Path),
              help="Codebook: YAML (docs/codebook.md), or a REFI-QDA .qdc codebook or .qdpx project.")
@_output_options(extra=("qdpx",))
@_segment_options
@click.option("--threshold", type=float, help="Score a code needs to be suggested (default: codebook, else model).")
@click.option("--margin", type=float,
              help="Codes within this of the best are an overlap (default: codebook, else model).")
@click.option("--top-k", type=int, default=3, show_default=True, help="Nearest exemplars averaged per code.")
@click.option("--suggestions", type=int, default=3, show_default=True, help="Suggestions listed per fragment.")
@click.option("--where", "where", multiple=True, metavar="CODE",
              help="Output only fragments assigned this code (repeatable: all must hold, e.g. "
                   "--where positive-feedback --where clinical). The store keeps every fragment.")
@click.option("--train-from", "train_from", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Learn from pilot coding (a .qdpx project, or a codings CSV on the corpus): coded passages "
                   "become exemplars, a classifier per code is fitted and its threshold calibrated.")
@_model_option
@_method_option
@_device_option
@_scheduler_option
@_cascade_options
@_store_option
@_quiet_option
def suggest(corpus: Path, codebook: Path, out: Path | None, fmt: str | None, threshold: float | None,
            margin: float | None, top_k: int, suggestions: int, where: tuple[str, ...], model: str, method: str | None,
            db: Path | None, quiet: bool, metadata: Path | None, device: str, scheduler: str | None,
            cascade: float | None, cascade_band: float | None, train_from: Path | None, **segmenting: Any) -> None:
    """Suggest codes for every fragment of CORPUS (a transcript, a folder, or a fragment table)."""
    from nlp_coder.codebook import load_codebook
    from nlp_coder.export.tables import atomic_output, render_results, select_results
    from nlp_coder.run import DEFAULT_BATCH, SuggestOptions
    from nlp_coder.run import suggest as run_suggest
    from nlp_coder.store import resolve_store_path

    store = resolve_store_path(db)
    fmt = _format_for(out, fmt)
    if fmt == "qdpx" and out is None:
        raise click.BadParameter("a .qdpx project is written to a file: give --out FILE.qdpx", param_hint="--format")
    book = load_codebook(codebook) if where else None
    if book is not None:  # check the codes before any work is done
        select_results((), book, where)
    written = 0
    # JSONL is written as the corpus streams through, a chunk at a time; other formats need every
    # result first. A file appears only complete (atomic_output).
    # On a cluster, a batch must keep every worker busy: 1024 texts (16 tasks of 64).
    batch_size = 1024 if scheduler else DEFAULT_BATCH
    with contextlib.ExitStack() as stack, atomic_output(out) if fmt == "jsonl" else _nothing() as handle:
        embedder = _cluster_embedder(stack, scheduler, model, device, batch_size)

        def sink(decided: Decisions, lines: Sequence[str]) -> None:
            nonlocal written
            if where:
                lines = [line for line, keep in zip(lines, decided.having(where).tolist()) if keep]
            handle.write("".join(line + "\n" for line in lines).encode("utf-8"))
            written += len(lines)

        result = run_suggest(
            corpus, codebook, store,
            segment_options=_build_segment_options(**segmenting),
            options=SuggestOptions(model=model, method=method, threshold=threshold, margin=margin, top_k=top_k,
                                   suggestions=suggestions, device=device, cascade=cascade, cascade_band=cascade_band,
                                   train_from=str(train_from) if train_from else None, batch_size=batch_size),
            metadata=metadata, progress=not quiet, sink=sink if handle is not None else None,
            keep_results=fmt != "jsonl", embedder=embedder,
        )
    assert result.summary is not None
    total = result.summary.fragments
    if fmt != "jsonl":
        shown = select_results(result.results, result.codebook, where) if where else result.results
        written = len(shown)
        if fmt == "qdpx":  # the sources, any human codings untouched, and the suggestions as user nlp-coder
            from nlp_coder.refi import write_suggestions_qdpx

            write_suggestions_qdpx(out, corpus, result.segmentation.documents, result.codebook, shown)
        else:
            _emit(render_results(shown, fmt, result.manifest, result.codebook), out)
    _warn(result.segmentation.warnings, quiet)
    if not quiet:
        click.echo(result.summary.as_text(), err=out is None)
        selection = f" (of {total}, where {' and '.join(where)})" if where else ""
        where_to = f"wrote {written} fragments{selection} ({fmt}) to {out}" if out else "results on standard output"
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


@main.command(context_settings=CONTEXT)
@_corpus_argument
@_output_options
@_segment_options
@_quiet_option
def segment(corpus: Path, out: Path | None, fmt: str | None, quiet: bool, metadata: Path | None,
            **segmenting: Any) -> None:
    """Cut CORPUS into fragments and print them with their exact offsets (nothing is coded)."""
    from nlp_coder.export.tables import render_fragments
    from nlp_coder.run import read_and_segment

    seg = read_and_segment(corpus, _build_segment_options(**segmenting), metadata)
    _emit(render_fragments(seg.fragments, _format_for(out, fmt)), out)
    _warn(seg.warnings, quiet)
    if not quiet:
        click.echo(f"{len(seg.fragments)} fragments from {len(seg.documents)} documents "
                   f"(sentences by {seg.pipeline})", err=True)


@main.command(context_settings=CONTEXT)
@_corpus_argument
@_segment_options
@_model_option
@_device_option
@_scheduler_option
@_store_option
@click.option("--batch-size", type=int, default=256, show_default=True,
              help="Texts embedded and committed per batch (on a cluster: at least 64 x its worker threads).")
@_quiet_option
def embed(corpus: Path, model: str, db: Path | None, batch_size: int, quiet: bool, metadata: Path | None,
          device: str, scheduler: str | None, **segmenting: Any) -> None:
    """Embed CORPUS's fragments into the project store's cache, so later runs are fast."""
    from nlp_coder.run import embed_corpus
    from nlp_coder.store import resolve_store_path

    store = resolve_store_path(db)
    with contextlib.ExitStack() as stack:
        embedder = _cluster_embedder(stack, scheduler, model, device, batch_size)
        done = embed_corpus(corpus, store, segment_options=_build_segment_options(**segmenting), model=model,
                            metadata=metadata, batch_size=batch_size, progress=not quiet, device=device,
                            embedder=embedder)
    _warn(done.segmentation.warnings, quiet)
    if not quiet:
        click.echo(f"{len(done.segmentation.fragments)} fragments: {done.embedded} texts embedded, "
                   f"{done.cached} already cached, in {store}")


@main.command(context_settings=CONTEXT)
@_corpus_argument
@click.option("-c", "--codebook", "codebook", type=click.Path(path_type=Path),
              help="Codebook YAML. Without one, every fragment is clustered (open coding).")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report here (written whole or not at all). Default: standard output.")
@click.option("--format", "fmt", type=click.Choice(["json", "md"]), help="Default: from --out, else md.")
@click.option("--yaml", "yaml_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the candidate codes as a YAML snippet to paste into the codebook.")
@click.option("--include", "selection", type=click.Choice(["uncoded", "low", "all"]),
              help="Fragments to cluster: uncoded (default with a codebook), low (uncoded or barely above "
                   "the threshold), all (default without a codebook).")
@click.option("--distance-threshold", type=float, default=0.6, show_default=True,
              help="Clusters are not merged beyond this cosine distance; lower gives more, tighter clusters.")
@click.option("--min-cluster-size", type=int, default=4, show_default=True, help="Smaller clusters are left out.")
@_segment_options
@_coding_options
def discover(corpus: Path, codebook: Path | None, out: Path | None, fmt: str | None, yaml_out: Path | None,
             selection: str | None, distance_threshold: float, min_cluster_size: int, threshold: float | None,
             margin: float | None, model: str, method: str | None, db: Path | None, quiet: bool, metadata: Path | None,
             **segmenting: Any) -> None:
    """Cluster the text no code fits into candidate themes, with keywords and example fragments."""
    from nlp_coder.analyses.discover import candidate_codes_yaml, discovery_as_dict, discovery_as_markdown
    from nlp_coder.export.tables import write_atomic
    from nlp_coder.run import SuggestOptions, discover_themes
    from nlp_coder.store import resolve_store_path

    found = discover_themes(corpus, codebook, resolve_store_path(db),
                            segment_options=_build_segment_options(**segmenting),
                            options=SuggestOptions(model=model, method=method, threshold=threshold, margin=margin),
                            metadata=metadata, selection=selection, distance_threshold=distance_threshold,
                            min_cluster_size=min_cluster_size, progress=not quiet)
    fmt = fmt or ("json" if out is not None and out.suffix.lower() == ".json" else "md")
    text = (json.dumps(discovery_as_dict(found), ensure_ascii=False, indent=2) + "\n" if fmt == "json"
            else discovery_as_markdown(found))
    if yaml_out is not None:
        write_atomic(yaml_out, candidate_codes_yaml(found))
    _emit(text, out)
    if not quiet:
        click.echo(f"{len(found.clusters)} candidate themes from {found.candidates} {found.selection} fragments "
                   f"({found.unclustered} in no cluster)" + (f"; report in {out}" if out else ""), err=out is None)


@main.command(context_settings=CONTEXT)
@_corpus_argument
@click.option("-c", "--codebook", "codebook", required=True, type=click.Path(path_type=Path),
              help="Codebook YAML file.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report here (written whole or not at all). Default: standard output.")
@click.option("--format", "fmt", type=click.Choice(["json", "md"]), help="Default: from --out, else md.")
@click.option("--bootstrap", type=int, default=20, show_default=True, help="Resamples of each code's exemplars.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--compare-model", metavar="NAME", help="A second registered model to compare labels with.")
@_segment_options
@_coding_options
def sensitivity(corpus: Path, codebook: Path, out: Path | None, fmt: str | None, bootstrap: int, seed: int,
                compare_model: str | None, threshold: float | None, margin: float | None, model: str,
                method: str | None, db: Path | None, quiet: bool, metadata: Path | None, **segmenting: Any) -> None:
    """Test the codebook's category boundaries: threshold and margin sweeps, exemplar stability,
    competing codes with their boundary fragments, and recommendations."""
    from nlp_coder.analyses.sensitivity import sensitivity_as_dict, sensitivity_as_markdown
    from nlp_coder.run import SuggestOptions, boundary_sensitivity
    from nlp_coder.store import resolve_store_path

    if bootstrap < 0:
        raise click.BadParameter("must be 0 or more", param_hint="--bootstrap")
    options = SuggestOptions(model=model, method=method, threshold=threshold, margin=margin)
    report, texts = boundary_sensitivity(corpus, codebook, resolve_store_path(db),
                                         segment_options=_build_segment_options(**segmenting), options=options,
                                         metadata=metadata, bootstrap=bootstrap, seed=seed,
                                         compare_model=compare_model, progress=not quiet)
    fmt = fmt or ("json" if out is not None and out.suffix.lower() == ".json" else "md")
    text = (json.dumps(sensitivity_as_dict(report), ensure_ascii=False, indent=2) + "\n" if fmt == "json"
            else sensitivity_as_markdown(report, texts))
    _emit(text, out)
    if not quiet:
        click.echo(f"{len(report.recommendations)} recommendation(s) for {report.fragments} fragments"
                   + (f"; report in {out}" if out else ""), err=out is None)


@main.command(context_settings=CONTEXT)
@_corpus_argument
@click.option("-c", "--codebook", "codebook", required=True, type=click.Path(path_type=Path),
              help="Codebook YAML file.")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write (written whole or not at all).")
@click.option("--bootstrap", type=int, default=10, show_default=True, help="Resamples of each code's exemplars.")
@click.option("--distance-threshold", type=float, default=0.6, show_default=True, help="As for discover.")
@click.option("--min-cluster-size", type=int, default=4, show_default=True, help="As for discover.")
@click.option("--codings", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Human coding to compare with (a .qdpx or a codings CSV); default: the corpus, if a .qdpx.")
@_segment_options
@_coding_options
def report(corpus: Path, codebook: Path, out: Path, bootstrap: int, distance_threshold: float,
           min_cluster_size: int, codings: Path | None, threshold: float | None, margin: float | None, model: str,
           method: str | None, db: Path | None, quiet: bool, metadata: Path | None, **segmenting: Any) -> None:
    """Write one self-contained HTML page (works offline) on a coded corpus: overview, codes by
    facet and attribute, a map of fragments, quotes, candidate themes, sensitivity, co-occurrence."""
    from nlp_coder.export.tables import write_atomic
    from nlp_coder.run import SuggestOptions, build_report
    from nlp_coder.store import resolve_store_path

    options = SuggestOptions(model=model, method=method, threshold=threshold, margin=margin)
    html = build_report(corpus, codebook, resolve_store_path(db), segment_options=_build_segment_options(**segmenting),
                        options=options, metadata=metadata, bootstrap=bootstrap, distance_threshold=distance_threshold,
                        min_cluster_size=min_cluster_size, codings=codings, progress=not quiet)
    write_atomic(out, html)
    if not quiet:
        click.echo(f"wrote the report to {out} ({len(html) // 1024} KiB); open it in a browser")


@main.group(cls=_Group, context_settings=CONTEXT)
def codebook() -> None:
    """Show and check codebooks."""


@codebook.command("show", context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def codebook_show(file: Path, fmt: str) -> None:
    """Validate FILE and print its code tree with definitions and exemplar counts."""
    from nlp_coder.codebook import load_codebook
    from nlp_coder.describe import codebook_as_dict, codebook_as_text

    book = load_codebook(file)
    if fmt == "json":
        click.echo(json.dumps(codebook_as_dict(book), ensure_ascii=False, indent=2))
    else:
        click.echo(codebook_as_text(book))


@codebook.command("lint", context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--min-examples", type=int, default=3, show_default=True, help="Report codes with fewer exemplars.")
@click.option("--no-embed", is_flag=True, help="Structural checks only (no model is loaded).")
@click.option("--strict", is_flag=True, help="Exit with status 1 when anything is found.")
@_model_option
@_store_option
def codebook_lint(file: Path, min_examples: int, no_embed: bool, strict: bool, model: str, db: Path | None) -> None:
    """Report codes that are hard to tell apart, have too few exemplars, or exemplars nearer
    another code than their own."""
    from nlp_coder.codebook import load_codebook
    from nlp_coder.lint import lint_codebook

    book = load_codebook(file)
    encode = None
    if not no_embed:
        encode = _cached_encoder(model, db)
    findings = lint_codebook(book, encode, min_examples=min_examples)
    for finding in findings:
        where = f"{file}:{finding.line}: " if finding.line else ""
        click.echo(f"{where}[{finding.check}] {finding.message}")
    click.echo(f"{len(findings)} finding(s) in {len(book.codes)} codes", err=True)
    if strict and findings:
        sys.exit(1)


def _cached_encoder(model: str, db: Path | None) -> Callable[[Any], Any]:
    from nlp_coder.embed.models import load_embedder
    from nlp_coder.run import embed_cached
    from nlp_coder.store import Store, resolve_store_path

    embedder = load_embedder(model)
    path = resolve_store_path(db)

    def encode(texts: Any) -> Any:
        with Store(path) as store:
            return embed_cached(store, embedder, list(texts))[0]

    return encode


@main.command(context_settings=CONTEXT)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def models(fmt: str) -> None:
    """List the registered embedding models and spaCy pipelines, and whether each is installed."""
    from nlp_coder.describe import models_as_dicts, models_as_text

    if fmt == "json":
        click.echo(json.dumps(models_as_dicts(), indent=2))
    else:
        click.echo(models_as_text())


# Commands of other areas live in their own modules (cli_*.py) and are registered here.
# (Imported last: they use the shared option decorators defined above.)
from nlp_coder.cli.evaluate import evaluate  # noqa: E402

main.add_command(evaluate)
from nlp_coder.cli.refi import agree, check, convert, sample  # noqa: E402

main.add_command(agree)
main.add_command(sample)
main.add_command(check)
codebook.add_command(convert)


if __name__ == "__main__":  # pragma: no cover
    main()
