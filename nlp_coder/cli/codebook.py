"""The ``codebook`` commands: ``show``, ``lint``, ``convert``. Each parses its options, calls one
library function and prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from nlp_coder.cli.options import CONTEXT, model_option, output_options, store_option


@click.group(context_settings=CONTEXT)
def codebook() -> None:
    """Show and check codebooks."""


@codebook.command("show", context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path))
@output_options(("text", "json"), default="text", to_file=False)
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
@model_option
@store_option
def codebook_lint(file: Path, min_examples: int, no_embed: bool, strict: bool, model: str, db: Path | None) -> None:
    """Report codes that are hard to tell apart, have too few exemplars, or exemplars nearer
    another code than their own."""
    from nlp_coder.codebook import load_codebook
    from nlp_coder.lint import lint_codebook

    book = load_codebook(file)
    encode = None
    if not no_embed:
        encode = _cached_encoder(model, db, book)
    findings = lint_codebook(book, encode, min_examples=min_examples)
    for finding in findings:
        where = f"{file}:{finding.line}: " if finding.line else ""
        click.echo(f"{where}[{finding.check}] {finding.message}")
    click.echo(f"{len(findings)} finding(s) in {len(book.codes)} codes", err=True)
    if strict and findings:
        sys.exit(1)


def _cached_encoder(model: str, db: Path | None, book: Any) -> Callable[[Any], Any]:
    from nlp_coder.embed.models import load_embedder
    from nlp_coder.embed.registry import choose_model
    from nlp_coder.language import codebook_language
    from nlp_coder.store import Store, embed_cached, resolve_store_path

    choice = choose_model(model, {codebook_language(book).code})  # a model that covers the codebook's language
    if choice.note or choice.warning:
        click.echo(choice.note or f"warning: {choice.warning}", err=True)
    embedder = load_embedder(choice.model)
    path = resolve_store_path(db)

    def encode(texts: Any) -> Any:
        with Store(path) as store:
            return embed_cached(store, embedder, list(texts))[0]

    return encode


@codebook.command("convert", context_settings=CONTEXT)
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def convert(source: Path, target: Path) -> None:
    """Convert a codebook between YAML and REFI-QDA: SOURCE (.yaml, .qdc or .qdpx) to TARGET
    (.qdc or .yaml). Definitions, criteria and exemplars travel in each code's Description."""
    from nlp_coder.codebook import load_codebook
    from nlp_coder.export.formats import check_output, format_for
    from nlp_coder.export.tables import write_atomic
    from nlp_coder.refi import codebook_to_yaml, write_qdc

    fmt = format_for(target, None, None, formats=("qdc", "yaml"), what="a codebook", option="a TARGET")
    check_output(target)
    book = load_codebook(source)
    if fmt == "qdc":
        write_qdc(target, book)
    else:
        write_atomic(target, codebook_to_yaml(book))
    click.echo(f"wrote {len(book.codes)} codes to {target}", err=True)
