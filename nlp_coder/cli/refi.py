"""Commands for REFI-QDA exchange and reliability: ``codebook convert``, ``agree``, ``sample``,
``check``. Each parses its options and calls one library function."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from nlp_coder.cli import (
    CONTEXT,
    _build_segment_options,
    _corpus_argument,
    _emit,
    _method_option,
    _model_option,
    _quiet_option,
    _segment_options,
    _store_option,
    _warn,
)


@click.command("convert", context_settings=CONTEXT)
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def convert(source: Path, target: Path) -> None:
    """Convert a codebook between YAML and REFI-QDA: SOURCE (.yaml, .qdc or .qdpx) to TARGET
    (.qdc or .yaml). Definitions, criteria and exemplars travel in each code's Description."""
    from nlp_coder.codebook import load_codebook
    from nlp_coder.errors import InputError
    from nlp_coder.export.tables import write_atomic
    from nlp_coder.refi import codebook_to_yaml, write_qdc

    book = load_codebook(source)
    suffix = target.suffix.casefold()
    if suffix == ".qdc":
        write_qdc(target, book)
    elif suffix in (".yaml", ".yml"):
        write_atomic(target, codebook_to_yaml(book))
    else:
        raise InputError(f"cannot write a codebook as {target.suffix or 'a file without suffix'}", str(target),
                         "Give a TARGET ending in .qdc or .yaml")
    click.echo(f"wrote {len(book.codes)} codes to {target}", err=True)


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
@click.option("--min-overlap", type=float, default=0.5, show_default=True,
              help="Share of a fragment a coder's codings must cover for the code to count as applied.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]),
              help="Default: from the --out suffix, else text.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (written whole or not at all). Default: standard output.")
@_quiet_option
def agree(inputs: tuple[Path, ...], coders: tuple[str, ...], level: str, within: Path | None, min_overlap: float,
          fmt: str | None, out: Path | None, quiet: bool) -> None:
    """Inter-coder agreement per code and overall: percent agreement, Cohen's kappa and
    Krippendorff's alpha (nominal), at fragment and character level.

    INPUTS are one or two .qdpx projects, codings CSVs (document,start,end,code,coder) or suggest
    JSONL files (the machine as a coder)."""
    from nlp_coder.analyses.agree import agreement_as_dicts, agreement_as_text, agreement_from_inputs
    from nlp_coder.export.tables import _csv_text
    from nlp_coder.refi import read_codings
    from nlp_coder.refi.codings import read_passages

    levels = ("fragment", "character") if level == "both" else (level,)
    report = agreement_from_inputs([read_codings(p) for p in inputs], coders, min_overlap=min_overlap,
                                   levels=levels, within=read_passages(within) if within else ())
    fmt = fmt or {".csv": "csv", ".json": "json"}.get(out.suffix.casefold() if out else "", "text")
    if fmt == "text":
        text = agreement_as_text(report)
    elif fmt == "json":
        text = json.dumps({"coders": list(report.raters), "documents": list(report.documents),
                           "rows": agreement_as_dicts(report)}, ensure_ascii=False, indent=2) + "\n"
    else:
        rows = agreement_as_dicts(report)
        header = list(rows[0]) if rows else ["level", "code"]
        text = _csv_text(header, [[r[h] for h in header] for r in rows])
    _emit(text, out)
    _warn(report.warnings, quiet)


@click.command(context_settings=CONTEXT)
@_corpus_argument
@click.option("--n", "n", type=int, required=True, help="Fragments to draw.")
@click.option("--stratify-by", metavar="ATTRIBUTE",
              help="Draw from each value of this document attribute in proportion to its size.")
@click.option("--seed", type=int, required=True, help="Seed of the random draw (the same seed, the same sample).")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The sample: .csv (to fill in: code, coder) or .qdpx (to code in a QDA tool).")
@click.option("-c", "--codebook", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Codebook to put in a .qdpx sample (default: the project's own when CORPUS is a .qdpx).")
@_segment_options
@_quiet_option
def sample(corpus: Path, n: int, stratify_by: str | None, seed: int, out: Path, codebook: Path | None,
           quiet: bool, metadata: Path | None, **segmenting: Any) -> None:
    """Draw a random (or stratified) sample of CORPUS's fragments for a second coder, without
    anyone's codes."""
    from nlp_coder.analyses.sample import draw_sample, sample_as_csv
    from nlp_coder.codebook import load_codebook
    from nlp_coder.errors import InputError
    from nlp_coder.export.tables import write_atomic
    from nlp_coder.refi import Marker, build_qdpx, read_qdpx, write_atomic_bytes
    from nlp_coder.run import read_and_segment

    suffix = out.suffix.casefold()
    if suffix not in (".csv", ".qdpx"):
        raise InputError(f"cannot write a sample as {out.suffix or 'a file without suffix'}", str(out),
                         "Give --out ending in .csv or .qdpx")
    seg = read_and_segment(corpus, _build_segment_options(**segmenting), metadata)
    drawn = draw_sample(seg.fragments, n, seed=seed, stratify_by=stratify_by)
    if suffix == ".csv":
        write_atomic(out, sample_as_csv(drawn))
    else:
        if codebook is not None:
            book = load_codebook(codebook)
        else:  # the project's own codebook, if it has one
            book = read_qdpx(corpus).codebook if corpus.suffix.casefold() == ".qdpx" else None
        used = {f.document for f in drawn.fragments}
        markers = [Marker(f.document, f.start, f.end, f"sample {i} of {len(drawn.fragments)} ({f.id})")
                   for i, f in enumerate(drawn.fragments, start=1)]
        data = build_qdpx(documents=[d for d in seg.documents if d.id in used], codebook=book, markers=markers,
                          name=f"sample of {corpus.stem}")
        write_atomic_bytes(out, data)
    _warn(seg.warnings, quiet)
    if not quiet:
        strata = ", ".join(f"{v}: {k} of {t}" for v, t, k in drawn.strata) if stratify_by else ""
        click.echo(f"drew {len(drawn.fragments)} of {len(seg.fragments)} fragments (seed {seed})"
                   + (f" by {stratify_by}: {strata}" if strata else "") + f"; wrote {out}", err=True)


@click.command(context_settings=CONTEXT)
@click.argument("project", type=click.Path(exists=True, path_type=Path))
@click.option("-c", "--codebook", "codebook", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Codebook to check against (YAML, .qdc, or the .qdpx project itself).")
@click.option("--codings", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Human codings as a CSV (document,start,end,code,coder) when PROJECT is not a .qdpx.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "jsonl", "qdpx"]),
              help="Default: from the --out suffix, else text (the per-code summary and the counts).")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the findings here: .csv, .jsonl, or .qdpx (the project with the findings as codings of "
                   "the user 'nlp-coder check', each with a note).")
@click.option("--threshold", type=float, help="As for suggest.")
@click.option("--margin", type=float, help="As for suggest.")
@_segment_options
@_model_option
@_method_option
@_store_option
@_quiet_option
def check(project: Path, codebook: Path, codings: Path | None, fmt: str | None, out: Path | None,
          threshold: float | None, margin: float | None, model: str, method: str | None, db: Path | None, quiet: bool,
          metadata: Path | None, **segmenting: Any) -> None:
    """Audit the human coding of PROJECT: fragments probably missed, doubtful codings, and a
    per-code summary, to review (nothing is changed)."""
    from nlp_coder.analyses.audit import audit, audit_codings, audit_csv, audit_jsonl, audit_summary_text
    from nlp_coder.errors import InputError
    from nlp_coder.refi import build_qdpx, read_qdpx, write_atomic_bytes
    from nlp_coder.run import SuggestOptions
    from nlp_coder.store import resolve_store_path

    fmt = fmt or {".csv": "csv", ".jsonl": "jsonl", ".qdpx": "qdpx"}.get(out.suffix.casefold() if out else "", "text")
    if fmt == "qdpx" and (out is None or project.suffix.casefold() != ".qdpx"):
        raise InputError("a .qdpx of findings needs a .qdpx PROJECT and --out FILE.qdpx", "--format")
    report = audit(project, codebook, resolve_store_path(db), codings=codings,
                   segment_options=_build_segment_options(**segmenting),
                   options=SuggestOptions(model=model, method=method, threshold=threshold, margin=margin),
                   metadata=metadata)
    if fmt == "qdpx":
        assert out is not None
        base = read_qdpx(project)
        from nlp_coder.codebook import load_codebook

        write_atomic_bytes(out, build_qdpx(documents=base.documents, codebook=load_codebook(codebook),
                                           codings=audit_codings(report), base=base))
    else:
        text = {"text": audit_summary_text, "csv": audit_csv, "jsonl": audit_jsonl}[fmt](report)
        _emit(text, out)
    _warn(report.warnings, quiet)
    if not quiet and fmt != "text":
        click.echo(audit_summary_text(report), err=True, nl=False)
