"""The command pages under docs/commands/ against the commands themselves.

Each command of ``nlp-coder`` (found through :data:`nlp_coder.cli.main`, subcommands of groups
included) has a page ``docs/commands/<command words joined by ->.md``. Its options table (a
Markdown table whose first header cell is "Option") lists every option of the command by its
long name, and names no option the command lacks; the command lines shown on any page
(``nlp-coder COMMAND ...`` in a code block) use only options that command has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import REPO

from nlp_coder.cli import main

PAGES = REPO / "docs" / "commands"
LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SHORT = re.compile(r"(?<![\w-])-[a-zA-Z](?![\w-])")


def _commands() -> Iterator[tuple[str, click.Command, click.Context]]:
    """Every leaf command under ``main`` as ("codebook lint", command, its context)."""

    def walk(group: click.Group, ctx: click.Context, prefix: str) -> Iterator[tuple[str, click.Command,
                                                                                 click.Context]]:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            sub = click.Context(command, info_name=name, parent=ctx, **command.context_settings)
            if isinstance(command, click.Group):
                yield from walk(command, sub, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}", command, sub

    root = click.Context(main, info_name="nlp-coder", **main.context_settings)
    yield from walk(main, root, "")


COMMANDS = {name: (command, ctx) for name, command, ctx in _commands()}


def _options(name: str) -> tuple[set[str], dict[str, click.Parameter]]:
    """The command's long options a page must list (the help option and hidden ones aside),
    and every option name it accepts, long and short, with its parameter."""
    command, ctx = COMMANDS[name]
    required: set[str] = set()
    accepted: dict[str, click.Parameter] = {}
    help_option = command.get_help_option(ctx)
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option):
            continue
        accepted |= dict.fromkeys([*param.opts, *param.secondary_opts], param)
        if param is not help_option and not param.hidden:
            required |= {n for n in param.opts if n.startswith("--")}
    return required, accepted


def _page(name: str) -> Path:
    return PAGES / f"{name.replace(' ', '-')}.md"


def _table_options(text: str) -> list[str]:
    """The first cells of the rows of the page's option tables (header cell "Option")."""
    cells: list[str] = []
    in_table = False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        first = re.split(r"(?<!\\)\|", line)[1].strip()
        if not in_table:
            in_table = first.casefold() == "option"
            continue
        if not set(first) <= set("-: "):  # not the |---| line
            cells.append(first)
    return cells


def _command_lines(text: str) -> Iterator[tuple[str, str]]:
    """(command, the rest of its line) of each ``nlp-coder COMMAND ...`` line in the page's code
    blocks (a ``$`` prompt allowed, ``\\`` continuations joined), cut at a shell pipe or ``&&``."""
    fenced = False
    joined = ""
    for line in text.splitlines():
        if line.startswith("```"):
            fenced, joined = not fenced, ""
            continue
        if not fenced:
            continue
        joined += line.rstrip()
        if joined.endswith("\\"):
            joined = joined[:-1] + " "
            continue
        words = joined.removeprefix("$ ").strip()
        joined = ""
        if not words.startswith("nlp-coder "):
            continue
        words = re.split(r" \| |&&|;", words)[0].removeprefix("nlp-coder ")
        for name in sorted(COMMANDS, key=len, reverse=True):  # "codebook lint" before "codebook"
            if words == name or words.startswith(name + " "):
                yield name, words[len(name):]
                break


def test_every_command_has_help_and_a_page() -> None:
    assert {"suggest", "codebook lint", "codebook show", "codebook convert", "report", "evaluate"} <= set(COMMANDS)
    for name in COMMANDS:
        result = CliRunner().invoke(main, [*name.split(), "--help"], catch_exceptions=False)
        assert result.exit_code == 0 and "Usage:" in result.output, name
        assert _page(name).is_file(), f"{name}: no page {_page(name)}"
    pages = {p.stem for p in PAGES.glob("*.md")}
    assert pages == {n.replace(" ", "-") for n in COMMANDS}, "a page for a command that does not exist"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_commands_page_lists_exactly_its_options(name: str) -> None:
    page = _page(name).name
    required, accepted = _options(name)
    cells = _table_options(_page(name).read_text(encoding="utf-8"))
    listed = {token for cell in cells for token in LONG.findall(cell)}
    assert not required - listed, f"{page} does not list {sorted(required - listed)}"
    assert not listed - set(accepted), f"{page} lists options {name} lacks: {sorted(listed - set(accepted))}"
    for cell in cells:  # "-m, --model": the short name is that option's
        longs = {accepted[token] for token in LONG.findall(cell)}
        wrong = [token for token in SHORT.findall(cell) if accepted.get(token) not in longs]
        assert not wrong, f"{page}: {cell} names {wrong}, not short names of its options"


def test_command_lines_on_the_pages_use_real_options() -> None:
    wrong = []
    seen = set()
    for page in sorted(PAGES.glob("*.md")):
        for name, rest in _command_lines(page.read_text(encoding="utf-8")):
            seen.add(name)
            accepted = _options(name)[1]
            unknown = set(LONG.findall(rest)) | set(SHORT.findall(rest))
            wrong += [f"{page.name}: nlp-coder {name} {token}" for token in sorted(unknown - set(accepted))]
    assert not wrong, "\n".join(wrong)
    assert {"suggest", "codebook lint", "codebook show", "evaluate", "agree"} <= seen  # the rule finds them
