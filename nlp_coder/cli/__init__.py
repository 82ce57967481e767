"""The ``nlp-coder`` command line: the group, its error handling, and the commands of each area.

Each command parses its options, calls one library function and prints. The commands live in
a module per area (:mod:`.coding`, :mod:`.analyses`, :mod:`.refi`, :mod:`.codebook`,
:mod:`.evaluate`, :mod:`.models`); the options they share are in :mod:`.options`, the helpers in
:mod:`.common`. Heavy libraries (sentence-transformers, torch, spaCy) are imported inside the
commands that need them, so ``nlp-coder --help`` answers at once.
"""

from __future__ import annotations

from typing import Any

import click

from nlp_coder import __version__
from nlp_coder.cli.analyses import discover, report, sensitivity
from nlp_coder.cli.codebook import codebook
from nlp_coder.cli.coding import embed, segment, suggest
from nlp_coder.cli.evaluate import evaluate
from nlp_coder.cli.learn import learn
from nlp_coder.cli.models import models
from nlp_coder.cli.options import CONTEXT
from nlp_coder.cli.refi import agree, check, sample
from nlp_coder.cli.review import review
from nlp_coder.cli.store import store
from nlp_coder.errors import NlpCoderError

INTERRUPTED = 130
"""The exit status after Ctrl-C (128 + SIGINT), as shells report it."""


class _OneLineError(click.ClickException):
    """An error the user can fix, shown as one line with its code: ``Error E101: ...`` (exit 1)."""

    def __init__(self, error: NlpCoderError) -> None:
        super().__init__(str(error))
        self.code = error.code

    def show(self, file: Any = None) -> None:
        click.echo(f"Error {self.code}: {self.format_message()}", err=True, file=file)


class _OneLineUsageError(click.UsageError):
    """A usage error shown as one line (with where to find help), not click's usage block (exit 2)."""

    def show(self, file: Any = None) -> None:
        where = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"Error: {self.format_message()}{where}", err=True, file=file)


class _Group(click.Group):
    """Turns the errors users can fix into one line on stderr: exit status 1 for bad input (with
    the error's code), 2 for a mistyped command line; Ctrl-C gives one line and status 130. Any
    other exception is a bug and keeps its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NlpCoderError as exc:
            raise _OneLineError(exc) from None
        except (_OneLineUsageError, click.exceptions.NoArgsIsHelpError):
            raise
        except click.UsageError as exc:
            raise _OneLineUsageError(exc.format_message(), exc.ctx) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(INTERRUPTED)


@click.group(cls=_Group, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="nlp-coder")
def main() -> None:
    """Pre-code interview transcripts against a codebook, for human review.

    Fragments of respondent talk are matched against the codebook's exemplar quotes and
    definitions; each gets suggested codes with a score and a reason (the nearest exemplar), and
    a status: coded, overlap (several codes fit) or uncoded (no code fits). Everything runs
    locally; nothing is sent anywhere.
    """


for _command in (suggest, segment, embed, discover, sensitivity, report, codebook, models, evaluate, agree, sample,
                 check, learn, store, review):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
