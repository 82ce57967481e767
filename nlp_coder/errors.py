"""Errors a user can fix, each with a code from one catalogue.

Every problem with the user's input, a model, the store or an output is raised as an
:class:`NlpCoderError` (or one of its subclasses) whose message is one line saying what is wrong,
where, and how to fix it, and whose :attr:`~NlpCoderError.code` names the kind of problem:

* ``E1xx``: input (transcripts, tables, codebooks, codings, options);
* ``E2xx``: models (not installed, wrong weights);
* ``E3xx``: the project store;
* ``E4xx``: outputs.

Docs and tests refer to the codes (:data:`CATALOGUE`), not to the message text. The command line
prints the line (``Error E101: ...``) and exits with a non-zero status; it never shows a
traceback for these. Every public entry point raises only these for bad input.
"""

from __future__ import annotations

CATALOGUE: dict[str, str] = {
    # Input
    "E100": "the input cannot be used as it is",
    "E101": "a file or folder was not found",
    "E102": "a file is not text in a known encoding, or cannot be read",
    "E103": "a transcript or fragment table is malformed",
    "E104": "a file's format is unknown or not supported",
    "E105": "an input exceeds a safety limit (size, nesting, expansion, line length)",
    "E106": "there is nothing to code (no documents or no fragments)",
    "E107": "a folder holds files that cannot be read (--strict)",
    "E110": "the codebook is invalid",
    "E120": "a coding file or REFI-QDA project is invalid",
    "E121": "a gold file (human coding to evaluate against) is invalid",
    "E122": "a metadata table is invalid",
    "E130": "an option's value is invalid (out of range, not a number, unknown name)",
    "E131": "options that cannot be combined",
    "E140": "a review request names a fragment that is not in the review",
    "E141": "a review decision's action is unknown",
    "E142": "a review request names a code that is not in the codebook, or cannot be coded",
    "E143": "a review decision's codes do not fit its action",
    "E144": "a review decision's span does not hold its fragment",
    "E145": "a review request is malformed (not JSON, a missing or mistyped field, an unknown filter)",
    "E146": "the suggestions cannot be reviewed",
    "E150": "an optional package this needs is not installed",
    "E160": "a pseudonymisation key file is invalid",
    "E161": "a pseudonymisation key file cannot be read or written",
    # Models
    "E200": "a model or spaCy pipeline is not installed",
    "E201": "a model's weights differ from the registered ones, or its files are broken",
    "E202": "a model or device cannot be used here",
    "E203": "no installed model covers the language of the text",
    # Store
    "E300": "the project store cannot be opened or used",
    "E301": "the project store holds nothing for this request",
    "E302": "a document to forget is not in the project store",
    "E303": "there is no project store at this path",
    # Outputs
    "E400": "an output cannot be written",
}
"""Every error code with what it means (``docs/errors.md`` lists them with their fixes)."""


class NlpCoderError(Exception):
    """The one error type nlp_coder raises on purpose: a one-line message and a code.

    Args:
        what: what is wrong.
        where: the file (``path:line``), option or value concerned.
        fix: how to fix it.
        code: the catalogue code (:data:`CATALOGUE`); each subclass has a default.
    """

    default_code = "E100"

    def __init__(self, what: str, where: str | None = None, fix: str | None = None, *,
                 code: str | None = None) -> None:
        self.code = code or self.default_code
        if self.code not in CATALOGUE:
            raise ValueError(f"unknown error code {self.code}")
        self.what = what
        self.where = where
        self.fix = fix
        parts = [f"{where}: {what}" if where else what]
        if fix:
            parts.append(fix)
        # One line: a message that quotes a file's content never breaks the line.
        line = ". ".join(p.rstrip(".") for p in parts) + "."
        super().__init__(" ".join(line.split()) if "\n" in line or "\r" in line else line)

    @property
    def message(self) -> str:
        """The line without its code."""
        return str(self)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Picklable (Dask workers send errors back) with the keyword-only code.
        return (_rebuild, (type(self), self.what, self.where, self.fix, self.code))


def _rebuild(cls: type[NlpCoderError], what: str, where: str | None, fix: str | None,
             code: str) -> NlpCoderError:
    return cls(what, where, fix, code=code)


class InputError(NlpCoderError):
    """A file, option or value given by the user cannot be used as it is (``E1xx``)."""

    default_code = "E100"


class ModelNotInstalledError(NlpCoderError):
    """A model (or spaCy pipeline) is registered but its package is not installed (``E200``)."""

    default_code = "E200"


class ModelError(NlpCoderError):
    """A model cannot be used: wrong weights, broken files, an unusable device (``E201``/``E202``)."""

    default_code = "E201"


class StoreError(NlpCoderError):
    """The project store cannot be opened or used (``E3xx``)."""

    default_code = "E300"


class OutputError(NlpCoderError):
    """An output cannot be written (``E400``)."""

    default_code = "E400"
