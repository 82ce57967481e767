"""The ``store`` commands: ``info``, ``forget``, ``vacuum``, ``prune``. Each parses its options,
calls one library function (:mod:`nlp_coder.privacy.store`) and prints. None of them creates a
store."""

from __future__ import annotations

from pathlib import Path

import click

from nlp_coder.cli.options import CONTEXT, at_least, store_option


@click.group(context_settings=CONTEXT)
def store() -> None:
    """See what the project store holds, forget documents, reclaim space, prune old results."""


@store.command("info", context_settings=CONTEXT)
@store_option
def store_info(db: Path | None) -> None:
    """Where the store is, its size and permissions, and what it holds."""
    from nlp_coder.privacy.store import store_info as info
    from nlp_coder.store import resolve_store_path

    click.echo(info(resolve_store_path(db)).as_text(), nl=False)


@store.command("forget", context_settings=CONTEXT)
@click.argument("documents", nargs=-1)
@click.option("--where", "where", multiple=True, metavar="ATTRIBUTE=VALUE",
              help="Forget every document with this attribute value (from metadata.csv; repeatable: all must "
                   "hold), e.g. --where participant=P03.")
@store_option
def store_forget(documents: tuple[str, ...], where: tuple[str, ...], db: Path | None) -> None:
    """Remove DOCUMENTS (ids as stored: file names relative to the corpus folder) from the store:
    text, fragments, vectors no other document uses, suggestions and review decisions. Runs keep
    their manifests, with each document's hash only."""
    from nlp_coder.privacy.store import forget_documents
    from nlp_coder.store import resolve_store_path

    click.echo(forget_documents(resolve_store_path(db), documents, where=where).as_text(), nl=False)
    click.echo("run 'nlp-coder store vacuum' to shrink the file; outputs written with --out are not touched")


@store.command("vacuum", context_settings=CONTEXT)
@store_option
def store_vacuum(db: Path | None) -> None:
    """Rebuild the store without its free space and empty its write-ahead log."""
    from nlp_coder.privacy.store import vacuum_store
    from nlp_coder.store import resolve_store_path

    path = resolve_store_path(db)
    click.echo(vacuum_store(path).as_text(path), nl=False)


@store.command("prune", context_settings=CONTEXT)
@click.option("--keep", type=at_least(0), required=True, help="Runs whose results to keep (the most recent).")
@store_option
def store_prune(keep: int, db: Path | None) -> None:
    """Remove the results (suggestions) of all but the most recent runs; manifests stay."""
    from nlp_coder.privacy.store import prune_runs
    from nlp_coder.store import resolve_store_path

    click.echo(prune_runs(resolve_store_path(db), keep).as_text(), nl=False)
