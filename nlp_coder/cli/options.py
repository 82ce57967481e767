"""The options the commands share, each defined once: segmentation, store, model, method, device,
scheduler, cascade, coding, quiet, the corpus argument, and the output options (``--out``,
``--format``) of every command that writes a file.

Only click is imported here, so ``nlp-coder --help`` stays instant.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from nlp_coder.match.settings import AUTO_THRESHOLD, DEFAULT_METHOD, SCORING_METHODS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class FiniteFloat(click.ParamType):
    """A float that is a number: NaN and infinity are refused as a usage error (exit 2)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


FINITE_FLOAT = FiniteFloat()
"""The type of every float option."""

class WholeNumber(click.IntRange):
    """A whole number with a lower bound (shown as ``INTEGER``, its range in brackets)."""

    name = "integer"


def at_least(minimum: int) -> WholeNumber:
    """The type of a whole-number option that must be ``minimum`` or more."""
    return WholeNumber(min=minimum)


AT_LEAST_ONE = at_least(1)
"""The type of every whole-number option that must be 1 or more."""


def _apply(func: Callable[..., Any], decorators: Sequence[Decorator]) -> Callable[..., Any]:
    """Apply ``decorators`` so that the options appear in ``--help`` in the order given."""
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


# -- the corpus -----------------------------------------------------------------------------------
def corpus_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("corpus", type=click.Path(exists=True, path_type=Path))(func)


def segment_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that reads and segments a corpus (``**segmenting`` with
    ``metadata``; :func:`nlp_coder.cli.common.build_segment_options` makes them SegmentOptions)."""
    return _apply(func, [
        click.option("--unit", type=click.Choice(["sentence", "turn", "window"]), default="sentence",
                     show_default=True,
                     help="Fragment size: one sentence, one speaker turn, or a window of sentences."),
        click.option("--window", type=AT_LEAST_ONE, default=3, show_default=True,
                     help="Sentences per window (--unit window)."),
        click.option("--stride", type=AT_LEAST_ONE, default=1, show_default=True,
                     help="Sentences a window moves (--unit window)."),
        click.option("--min-words", type=at_least(0), default=3, show_default=True,
                     help="Shorter fragments (backchannels like 'Yeah.') merge with a neighbour in the same turn "
                          "or are skipped."),
        click.option("--fillers", default="auto", show_default=True, metavar="LANG",
                     help="Language of the filler list (um, uh, yeah, okay, ...) whose words do not count for "
                          "--min-words; 'auto': each document's language's (en, nl); 'none' counts every word."),
        click.option("--language", default="auto", show_default=True, metavar="LANG",
                     help="Language the documents are read in (sentences, fillers, the model that fits): 'auto' "
                          "detects it per document; an ISO 639-1 code (en, nl) sets it for all."),
        click.option("--join/--no-join", default=True, show_default=True,
                     help="Join a sentence that does not stand alone (cut mid-clause, or 'And ...' after a short "
                          "one) to its neighbour in the same paragraph."),
        click.option("--max-words", type=at_least(0), default=200, show_default=True,
                     help="Cut longer fragments into windows of at most this many words (reported, never "
                          "truncated); 0 cuts nothing."),
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
    ])


def strict_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--strict``: a file of a type that is not read, in the corpus folder, is an error (E107)."""
    return click.option("--strict", is_flag=True,
                        help="A file in the corpus folder whose type is not read (.pdf, .doc, ...) is an error, "
                             "not a warning.")(func)


def verbose_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--verbose``: the reading report in full, a block per file, instead of a line per file."""
    return click.option("--verbose", is_flag=True,
                        help="Print the reading report in full (every speaker, what was skipped and why, labels "
                             "read as text), not one line per file.")(func)


# -- the store, the model and how it scores -------------------------------------------------------
def store_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-d", "--db", "db", type=click.Path(dir_okay=False, path_type=Path), envvar="NLP_CODER_DB",
                        help="Project store (SQLite). Default: $NLP_CODER_DB, else .nlp-coder/store.db here.")(func)


def _store_text(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    from nlp_coder.store import set_keep_text

    ctx.call_on_close(set_keep_text(not value))  # for this command only


def store_text_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--no-store-text``: the store keeps hashes and offsets, not the transcripts' text
    (:attr:`nlp_coder.store.Store.keep_text`)."""
    return click.option("--no-store-text", "no_store_text", is_flag=True, expose_value=False, callback=_store_text,
                        help="Keep no transcript text in the project store, only hashes and offsets (the text is "
                             "read from the transcripts whenever it is needed).")(func)


def pseudonymise_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--pseudonymise KEYFILE`` (:mod:`nlp_coder.privacy.pseudonymise`)."""
    return click.option("--pseudonymise", "pseudonymise", type=click.Path(dir_okay=False, path_type=Path),
                        metavar="KEYFILE",
                        help="Replace names, places, organisations, e-mail addresses and phone numbers in the output "
                             "with pseudonyms ([Person 3]) kept in KEYFILE (YAML, or JSON for .json; created "
                             "owner-only when missing; never written into an output). See docs/privacy.md.")(func)


def model_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-m", "--model", default="default", show_default=True,
                        help="Embedding model from the registry (see 'nlp-coder models').")(func)


def method_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--method", type=click.Choice(SCORING_METHODS), default=None,
                        help="How a code's exemplars score a fragment: centroid = similarity to their mean, "
                             "topk = mean of the top-k most similar (docs/evaluation.md). Default: the model's "
                             f"(topk for --model fast), else {DEFAULT_METHOD}.")(func)


class ThresholdValue(FiniteFloat):
    """A finite number, or ``auto``: the threshold fitted to the codebook's exemplars
    (:func:`nlp_coder.analyses.sensitivity.recommend_threshold`, resolved by :func:`nlp_coder.run.suggest`)."""

    name = "float|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.strip().lower() == AUTO_THRESHOLD:
            return AUTO_THRESHOLD
        return super().convert(value, param, ctx)


def threshold_options(threshold: str = "As for suggest.", margin: str = "As for suggest.") -> Decorator:
    """``--threshold`` (a finite float, or ``auto``) and ``--margin`` (a finite float), with each
    command's help text."""
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        return _apply(func, [click.option("--threshold", type=ThresholdValue(),
                                          help=f"{threshold} 'auto': fitted to the codebook's exemplars "
                                               "(see 'nlp-coder sensitivity')."),
                             click.option("--margin", type=FINITE_FLOAT, help=margin)])
    return decorate


def top_k_option(help: str = "Nearest exemplars averaged per code.") -> Decorator:
    return click.option("--top-k", type=AT_LEAST_ONE, default=3, show_default=True, help=help)


def quiet_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-q", "--quiet", is_flag=True, help="No progress bar, summary or warnings.")(func)


def coding_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the commands that code the corpus as ``suggest`` does before their own work."""
    return _apply(func, [threshold_options(), model_option, method_option, store_option, store_text_option,
                         quiet_option])


# -- speed (nlp_coder.match.cascade): --device on suggest/embed, --cascade on suggest --------------
def device_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True,
                        help="Where the model runs: auto = a CUDA GPU when torch sees one, else the CPU.")(func)


def scheduler_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--scheduler", metavar="ADDRESS",
                        help="Embed on a Dask cluster: its scheduler's address (tcp://host:8786) or scheduler "
                             "file, or 'local' for one on this machine. Needs the dask extra "
                             "(docs/distributed.md).")(func)


def target_precision_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--target-precision``: the precision each learned code's threshold aims at."""
    return click.option("--target-precision", "target_precision", type=click.FloatRange(0, 1, min_open=True),
                        default=0.8, show_default=True,
                        help="Precision each code's threshold aims at, calibrated by cross-validation on the "
                             "labelled passages.")(func)


def learn_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--learn/--no-learn`` and ``--target-precision`` (``suggest``)."""
    return _apply(func, [
        click.option("--learn/--no-learn", "learn", default=None,
                     help="Learn the codebook (choose the method by cross-validation, calibrate each code's "
                          "threshold; kept in the store). Default: on with pilot coding (suggest --train-from), "
                          "else off."),
        target_precision_option,
    ])


def cascade_options(func: Callable[..., Any]) -> Callable[..., Any]:
    return _apply(func, [
        click.option("--cascade", type=FINITE_FLOAT, metavar="SHARE", is_flag=False, flag_value=0.3,
                     help="Score everything with the fast model, then re-score with --model the "
                          "least certain fragments, at most SHARE of them (--cascade alone: 0.3)."),
        click.option("--cascade-band", type=FINITE_FLOAT, metavar="SCORE",
                     help="With --cascade: re-score only fragments whose fast-model lead or distance "
                          "to the threshold is below SCORE."),
    ])


# -- outputs --------------------------------------------------------------------------------------
OUT_HELP = "Write to this file (written whole or not at all)."
"""The help of every ``--out``."""
FORMAT_HELP = "Output format."
"""The help of every ``--format``."""


class OutputOption(click.Option):
    """``--out`` or ``--format``, made by :func:`output_options` only. A default given in words
    ("standard output") is shown as it is written."""

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if isinstance(self.show_default, str):
            extra["default"] = self.show_default
        return extra


def output_options(formats: Sequence[str], *, default: str | None = None, required: bool = False,
                   to_file: bool = True, what: str = "the output") -> Decorator:
    """``-o/--out`` and ``--format``, for every command that writes a file.

    The command receives ``out`` (a Path or None) and ``fmt``, already decided: ``--format``, else
    the format ``--out``'s suffix names (:func:`nlp_coder.export.formats.format_for`), else
    ``default``. Before the command does any work, an ``--out`` that cannot be written is refused
    (``E400``).

    Args:
        formats: the formats the command writes (``--format`` is left out when there is one).
        default: the format when neither ``--format`` nor the suffix decides (None: the suffix
            must, and ``--out`` is required).
        required: ``--out`` must be given (the output is a file, never standard output).
        to_file: False for commands that print only: ``--format`` alone, ``default`` its default.
        what: the output, for the message when no format can be decided ("a sample").
    """
    formats = tuple(formats)
    format_option = click.option(
        "--format", "fmt", cls=OutputOption, type=click.Choice(formats), help=FORMAT_HELP,
        default=None if to_file else default,
        show_default=("from the --out suffix" + (f", else {default}" if default else "")) if to_file else True)
    out_option = click.option("-o", "--out", cls=OutputOption, type=click.Path(dir_okay=False, path_type=Path),
                              required=required, show_default=None if required else "standard output",
                              help=OUT_HELP)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if not to_file:
            return format_option(func)

        @functools.wraps(func)
        def command(*args: Any, out: Path | None = None, fmt: str | None = None, **kwargs: Any) -> Any:
            from nlp_coder.export.formats import check_output, format_for

            fmt = format_for(out, fmt, default, formats=formats, what=what)
            check_output(out)
            return func(*args, out=out, fmt=fmt, **kwargs)

        return _apply(command, [out_option, format_option] if len(formats) > 1 else [out_option])

    return decorate
