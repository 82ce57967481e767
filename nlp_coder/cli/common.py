"""Helpers the command modules share: segmentation options from the parsed values, the Dask
embedder of ``--scheduler``, writing an output, printing warnings.

Heavy libraries are imported inside the functions, so ``nlp-coder --help`` stays instant.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click


def build_segment_options(unit: str, window: int, stride: int, min_words: int, speakers: tuple[str, ...],
                          exclude_speakers: tuple[str, ...], interviewers: tuple[str, ...], all_speakers: bool,
                          pipeline: str, fillers: str = "auto", join: bool = True, max_words: int = 200,
                          language: str = "auto") -> Any:
    """The :class:`~nlp_coder.segment.SegmentOptions` of :func:`~nlp_coder.cli.options.segment_options`."""
    from nlp_coder.segment import DEFAULT_INTERVIEWER_LABELS, SegmentOptions

    return SegmentOptions(unit=unit, window=window, stride=stride, min_words=min_words, speakers=speakers,
                          exclude_speakers=exclude_speakers,
                          interviewer_labels=interviewers or DEFAULT_INTERVIEWER_LABELS,
                          all_speakers=all_speakers, pipeline=pipeline, fillers=fillers.strip().lower(), join=join,
                          max_words=max_words, language=language.strip().lower())


def cluster_embedder(stack: contextlib.ExitStack, scheduler: str | None, model: str, device: str,
                     batch_size: int) -> Any:
    """The Dask embedder for ``--scheduler`` (closed with ``stack``), or None to embed here."""
    if scheduler is None:
        return None
    from nlp_coder.embed.dask import load_dask_embedder

    return stack.enter_context(load_dask_embedder(model, scheduler, batch_size=min(batch_size, 128), device=device))


def emit(text: str, out: Path | None) -> None:
    """Write a command's whole output to ``out`` (written whole or not at all), or standard output."""
    from nlp_coder.export.formats import emit as write

    write(text, out)


def warn(warnings: tuple[str, ...] | list[str], quiet: bool) -> None:
    if not quiet:
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)


def said_pseudonymised(pseudonymiser: Any, quiet: bool) -> None:
    """Keep the names a ``--pseudonymise`` run learned in its key file, and say what was replaced
    (its notes, such as a language without named-entity recognition, even with ``--quiet``)."""
    if pseudonymiser is None:
        return
    pseudonymiser.save()
    report = pseudonymiser.report
    if not quiet:
        click.echo(report.as_text().splitlines()[0], err=True)
    for note in report.notes:
        click.echo(f"warning: {note}", err=True)
