"""Errors a user can fix.

Every problem with the user's input is raised as an :class:`InputError` whose message is one line
saying what is wrong, where, and how to fix it. The command line prints that line and exits with
a non-zero status; it never shows a traceback for these.
"""

from __future__ import annotations


class NlpCoderError(Exception):
    """Base class of the errors nlp_coder raises on purpose."""


class InputError(NlpCoderError):
    """A file, option or value given by the user cannot be used as it is."""

    def __init__(self, what: str, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        parts = [f"{where}: {what}" if where else what]
        if fix:
            parts.append(fix)
        super().__init__(". ".join(p.rstrip(".") for p in parts) + ".")


class ModelNotInstalledError(NlpCoderError):
    """A model (or spaCy pipeline) is registered but its package is not installed."""
