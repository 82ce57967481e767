"""``nlp-coder models``: the registered models and whether each is installed (library: nlp_coder.describe)."""

from __future__ import annotations

import json

import click

from nlp_coder.cli.options import CONTEXT, output_options


@click.command(context_settings=CONTEXT)
@output_options(("text", "json"), default="text", to_file=False)
def models(fmt: str) -> None:
    """List the registered embedding models and spaCy pipelines, and whether each is installed."""
    from nlp_coder.describe import models_as_dicts, models_as_text

    if fmt == "json":
        click.echo(json.dumps(models_as_dicts(), indent=2))
    else:
        click.echo(models_as_text())
