"""Pseudonymised outputs: names, places, organisations, e-mail addresses and phone numbers
replaced by stable pseudonyms (``[Person 3]``, ``[Place 1]``) kept in a key file the researcher
owns (``--pseudonymise KEYFILE``; ``docs/privacy.md``).

A :class:`Pseudonymiser` is made from a key file (:meth:`Pseudonymiser.from_keyfile`), learns the
corpus's names (:meth:`Pseudonymiser.scan`: spaCy's named entities where a trained pipeline for
the document's language is installed, and the speaker labels that are names), and replaces
them in any text (:meth:`Pseudonymiser.apply`), in any output object (:meth:`Pseudonymiser.walk`)
or in documents whose offsets must follow (:meth:`Pseudonymiser.document`, for ``.qdpx``
projects). Replacing is deterministic: the same key file and text give the same output. New
names get the next free number of their kind and are added to the key file
(:meth:`Pseudonymiser.save`, created owner-only), so a name keeps its pseudonym across runs and
outputs. The key file is never written into an output.

The pipeline runs on the original text: matching is not changed, and the offsets of JSONL, CSV,
JSON and Markdown outputs still point into the original documents; only a ``.qdpx`` project,
which carries its documents' text, gets the pseudonymised text with its selections moved onto it.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlp_coder.errors import InputError
from nlp_coder.records import Document, Span

KINDS = ("person", "place", "organisation", "email", "phone")
"""The kinds of what is replaced, in the key file's order."""
SECTIONS = {"people": "person", "places": "place", "organisations": "organisation", "emails": "email",
            "phones": "phone"}
"""The key file's sections and the kind each holds."""
LABELS = {"person": "Person", "place": "Place", "organisation": "Organisation", "email": "Email", "phone": "Phone"}
"""The word of each kind's pseudonyms (``[Person 3]``)."""
PLURALS = {"person": "names of people", "place": "places", "organisation": "organisations",
           "email": "e-mail addresses", "phone": "phone numbers"}

EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
PHONE = r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d[\d .-]{6,}\d(?![\w])"
"""A phone number: 9 to 15 digits with spaces, dots or dashes, an optional +country code and
(area code); checked for its digit count (:func:`_is_phone`). Times (``10:30``), dates and
shorter numbers are left alone."""

ROLE_WORDS = frozenset("""
interviewer interviewee i int iv ir q a r p moderator facilitator researcher therapist counsellor counselor
respondent participant speaker person mother father mum mom dad parent parents couple partner husband wife
child son daughter grandmother grandfather grandma grandad granddad nan aunt uncle carer caregiver foster
social worker family teacher nurse doctor professional practitioner client patient student unknown other
group all both man woman male female young old older younger baby
moeder vader ouder ouders kind zoon dochter oma opa mutter vater eltern sohn tochter mère père parent enfant fils
fille madre padre hijo hija entrevistador entrevistadora
""".split())
"""Words of speaker labels that name a role, not a person: a label made of these (and numbers,
``P03``, ``Speaker 2``) is kept; any other label is taken for a name."""

_LABEL_AFTER = re.compile(r"[ \t]*[*_]{0,2}[ \t]*:")
"""What follows a speaker label: a colon (markup allowed)."""

TITLES = frozenset("mr mrs ms miss dr doctor prof professor sir dame lady lord mx".split())
"""Titles before a name: not a name on their own."""

KEY_HEADER = ("# nlp-coder pseudonymisation key. It holds the real names: keep it private and never share it.\n"
              "# Sections: people, places, organisations, emails, phones. Each entry: name, also (other\n"
              "# spellings), pseudonym (given by nlp-coder when missing), found (how nlp-coder found it).\n")


@dataclass(frozen=True)
class KeyEntry:
    """One name of the key file: what is replaced (``name`` and its other spellings ``also``),
    its kind, its pseudonym, and how it came in (``key file``, ``named entity``, ``speaker label``,
    ``pattern``)."""

    kind: str
    name: str
    pseudonym: str
    also: tuple[str, ...] = ()
    found: str = "key file"

    @property
    def surfaces(self) -> tuple[str, ...]:
        return (self.name, *self.also)


@dataclass(frozen=True)
class KeyFile:
    """The key: every name with its pseudonym, in the file's order."""

    entries: tuple[KeyEntry, ...] = ()


@dataclass(frozen=True)
class Replacement:
    """One replacement in a text: ``text[start:end]`` (original offsets) became ``pseudonym``."""

    start: int
    end: int
    kind: str
    pseudonym: str


@dataclass(frozen=True)
class PseudonymisationReport:
    """What was replaced in the corpus read: per kind, the distinct names and their mentions;
    and what could not be done (a language without named-entity recognition)."""

    replaced: tuple[tuple[str, int, int], ...]  # (kind, names, mentions)
    notes: tuple[str, ...] = ()
    key_file: str = ""
    added: int = 0

    def as_dict(self) -> dict[str, object]:
        """The manifest's ``pseudonymisation`` entry (counts only, never a name)."""
        return {"replaced": {kind: {"names": names, "mentions": mentions} for kind, names, mentions in self.replaced},
                "notes": list(self.notes)}

    def as_text(self) -> str:
        done = ", ".join(f"{names} {PLURALS[kind]} ({mentions} mentions)" for kind, names, mentions in self.replaced
                         if names) or "nothing"
        lines = [f"pseudonymised: {done}; key in {self.key_file}"
                 + (f" ({self.added} new names added)" if self.added else "")]
        lines += [f"warning: {note}" for note in self.notes]
        return "\n".join(lines)


# -- the key file ---------------------------------------------------------------------------------

def _key_error(what: str, where: str) -> InputError:
    return InputError(what, where, "Fix that entry (docs/privacy.md describes the key file), or give a new file name",
                      code="E160")


def _pseudonym_number(pseudonym: str, kind: str) -> int | None:
    match = re.fullmatch(rf"\[{LABELS[kind]} (\d+)\]", pseudonym)
    return int(match.group(1)) if match else None


def parse_key_file(text: str, where: str = "the key file", *, json_format: bool = False) -> KeyFile:
    """Read a key file's text (YAML, or JSON when ``json_format``). An empty text is an empty key.

    Raises:
        InputError: (``E160``) not YAML/JSON, an unknown section or field, a name that is not a
            non-empty one-line string, or one spelling given two pseudonyms.
    """
    if json_format:
        try:
            data = json.loads(text) if text.strip() else {}
        except ValueError as exc:
            raise _key_error(f"not valid JSON ({exc})", where) from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text) if text.strip() else {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise _key_error(f"not valid YAML ({getattr(exc, 'problem', None) or 'syntax error'})",
                             f"{where}:{mark.line + 1}" if mark is not None else where) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _key_error("must be a mapping of sections (people, places, organisations, emails, phones)", where)
    entries: list[KeyEntry] = []
    for section, items in data.items():
        if section == "version":
            continue
        if section not in SECTIONS:
            raise _key_error(f"unknown section '{section}'", where)
        kind = SECTIONS[section]
        if items is None:
            continue
        if not isinstance(items, list):
            raise _key_error(f"'{section}' must be a list of names", where)
        for i, item in enumerate(items, start=1):
            entries.append(_entry(item, kind, f"{where}: {section} #{i}"))
    key = KeyFile(tuple(entries))
    seen: dict[str, str] = {}
    for entry in key.entries:
        for surface in entry.surfaces:
            folded = _fold(surface, entry.kind)
            if seen.setdefault(folded, entry.pseudonym) != entry.pseudonym:
                raise _key_error(f"'{surface}' is given two pseudonyms ({seen[folded]}, {entry.pseudonym})", where)
    return key


def _entry(item: object, kind: str, where: str) -> KeyEntry:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        raise _key_error("an entry must be a name or a mapping with 'name'", where)
    unknown = set(item) - {"name", "also", "pseudonym", "found"}
    if unknown:
        raise _key_error(f"unknown field '{sorted(map(str, unknown))[0]}'", where)
    name = _one_line(item.get("name"), "name", where)
    also = item.get("also") or []
    if isinstance(also, str):
        also = [also]
    if not isinstance(also, list):
        raise _key_error("'also' must be a list of names", where)
    pseudonym = item.get("pseudonym")
    found = item.get("found", "key file")
    return KeyEntry(kind, name, _one_line(pseudonym, "pseudonym", where) if pseudonym is not None else "",
                    tuple(_one_line(a, "also", where) for a in also), _one_line(found, "found", where))


def _one_line(value: object, what: str, where: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and what in ("name", "also"):
        value = str(value)  # a phone number written without quotes
    if not isinstance(value, str) or not value.strip() or "\n" in value or "\r" in value:
        raise _key_error(f"'{what}' must be a non-empty one-line text", where)
    return value.strip()


def render_key_file(key: KeyFile, *, json_format: bool = False) -> str:
    """The key file's text: every section, entries in order (what :func:`parse_key_file` reads)."""
    data: dict[str, list[dict[str, object]]] = {section: [] for section in SECTIONS}
    by_kind = {kind: section for section, kind in SECTIONS.items()}
    for entry in key.entries:
        item: dict[str, object] = {"name": entry.name}
        if entry.also:
            item["also"] = list(entry.also)
        item["pseudonym"] = entry.pseudonym
        if entry.found != "key file":
            item["found"] = entry.found
        data[by_kind[entry.kind]].append(item)
    if json_format:
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    import yaml

    return KEY_HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def _is_json(path: Path) -> bool:
    return path.suffix.casefold() == ".json"


def read_key_file(path: str | Path) -> KeyFile:
    """The key file at ``path`` (an empty key when there is no file yet).

    Raises:
        InputError: ``E160`` (invalid) or ``E161`` (a folder, or unreadable).
    """
    path = Path(path)
    if not path.exists():
        return KeyFile()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the key file ({getattr(exc, 'strerror', None) or exc})", str(path),
                         "Give a readable UTF-8 file with --pseudonymise", code="E161") from None
    return parse_key_file(text, str(path), json_format=_is_json(path))


def write_key_file(path: str | Path, key: KeyFile) -> None:
    """Write the key file whole (never half-written), owner-only (0600) when it is new."""
    from nlp_coder.export.tables import write_atomic

    try:
        write_atomic(path, render_key_file(key, json_format=_is_json(Path(path))))
    except Exception as exc:  # an OutputError: said as a key-file error
        raise InputError(f"cannot write the key file ({exc})", str(path),
                         "Give a file you can write with --pseudonymise", code="E161") from None


def _fold(surface: str, kind: str) -> str:
    """How spellings are compared: e-mail addresses whatever their case, phone numbers by their digits."""
    if kind == "email":
        return "email:" + surface.casefold()
    if kind == "phone":
        return "phone:" + re.sub(r"\D", "", surface)
    return surface


def _is_phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    return 9 <= digits <= 15


def is_role_label(label: str, interviewer_labels: Iterable[str] = ()) -> bool:
    """Whether a speaker label names a role (``Mother``, ``Interviewer``, ``P03``, ``Speaker 2``)
    rather than a person."""
    words = re.findall(r"[^\W\d_]+|\d+", label.casefold())
    extra = {w.casefold() for w in interviewer_labels}
    return bool(words) and all(w.isdigit() or w in ROLE_WORDS or w in extra or re.fullmatch(r"[a-z]\d*", w)
                               for w in words)


# -- the pseudonymiser ----------------------------------------------------------------------------

@dataclass
class _Scan:
    mentions: Counter[str] = field(default_factory=Counter)  # pseudonym -> mentions in the corpus
    notes: list[str] = field(default_factory=list)


class Pseudonymiser:
    """Replaces the names of a key file (and those it learns) with their pseudonyms.

    Use :meth:`from_keyfile`, then :meth:`scan` the documents, then :meth:`apply`, :meth:`walk`
    or :meth:`document` on what is written, and :meth:`save` to keep the names it learned.
    """

    def __init__(self, key: KeyFile | None = None, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._entries: list[KeyEntry] = []
        self._by_surface: dict[str, KeyEntry] = {}
        self._next = dict.fromkeys(KINDS, 1)
        self._added = 0
        self._scan = _Scan()
        self._pattern: re.Pattern[str] | None = None
        for entry in (key or KeyFile()).entries:
            self._add(entry, new=False)
        self._added = 0

    @classmethod
    def from_keyfile(cls, path: str | Path) -> Pseudonymiser:
        """A pseudonymiser with the key file at ``path`` (empty when the file does not exist yet:
        :meth:`save` creates it, owner-only).

        Raises:
            InputError: the key file is invalid (``E160``) or unreadable (``E161``).
        """
        path = Path(path)
        if path.is_dir():
            raise InputError("the key file is a folder", str(path), "Give a file name with --pseudonymise",
                             code="E161")
        return cls(read_key_file(path), path)

    # -- the key ----------------------------------------------------------------------------------
    @property
    def key(self) -> KeyFile:
        return KeyFile(tuple(self._entries))

    def _add(self, entry: KeyEntry, *, new: bool = True) -> KeyEntry:
        if not entry.pseudonym:
            entry = dataclasses.replace(entry, pseudonym=f"[{LABELS[entry.kind]} {self._next[entry.kind]}]")
        number = _pseudonym_number(entry.pseudonym, entry.kind)
        if number is not None:
            self._next[entry.kind] = max(self._next[entry.kind], number + 1)
        self._entries.append(entry)
        for surface in entry.surfaces:
            self._by_surface.setdefault(_fold(surface, entry.kind), entry)
        self._pattern = None
        self._added += new
        return entry

    def _lookup(self, surface: str, kind: str) -> KeyEntry | None:
        return self._by_surface.get(_fold(surface, kind))

    def learn(self, surface: str, kind: str, found: str) -> KeyEntry:
        """The key's entry for ``surface``, added with the next pseudonym of ``kind`` when new."""
        known = self._lookup(surface, kind)
        if known is None and kind in ("person", "place", "organisation"):
            known = next((self._lookup(surface, k) for k in ("person", "place", "organisation")
                          if self._lookup(surface, k) is not None), None)
        return known or self._add(KeyEntry(kind, surface, "", (), found))

    def _regex(self) -> re.Pattern[str]:
        if self._pattern is None:
            names = sorted({s for e in self._entries if e.kind not in ("email", "phone") for s in e.surfaces},
                           key=lambda s: (-len(s), s))
            parts = [f"(?P<email>{EMAIL})", f"(?P<phone>{PHONE})"]
            if names:
                parts.append("(?P<name>(?<!\\w)(?:" + "|".join(re.escape(n) for n in names) + ")(?!\\w))")
            self._pattern = re.compile("|".join(parts))
        return self._pattern

    # -- learning the corpus's names ----------------------------------------------------------------
    def scan(self, documents: Sequence[Document], *, ner: bool = True,
             interviewer_labels: Iterable[str] = ()) -> PseudonymisationReport:
        """Learn the names of ``documents``: the speaker labels that are not roles
        (:func:`is_role_label`), and, with ``ner``, the people, places and organisations spaCy's
        named-entity recogniser finds where a trained pipeline for the document's language is
        installed (where none is, a note says so). Then count what would be replaced.
        """
        from nlp_coder.segment import DEFAULT_INTERVIEWER_LABELS

        labels = tuple(interviewer_labels) or DEFAULT_INTERVIEWER_LABELS
        for doc in documents:
            for speaker in doc.speakers:
                if not is_role_label(speaker, labels) and self._lookup(speaker, "person") is None:
                    # a label in capitals ("SARAH:") is written "Sarah" in what people say
                    written = speaker.title() if speaker.isupper() else speaker
                    known = self._lookup(written, "person")
                    if known is not None:
                        self._also(known, speaker)
                        continue
                    entry = self.learn(speaker, "person", "speaker label")
                    if written != speaker:
                        self._also(entry, written)
        if ner:
            self._named_entities(documents)
        mentions: Counter[str] = Counter()
        for doc in documents:
            for replacement in self.apply(doc.text)[1]:
                mentions[replacement.pseudonym] += 1
        self._scan.mentions.update(mentions)
        return self.report

    def _named_entities(self, documents: Sequence[Document]) -> None:
        from nlp_coder.language import detect_language

        by_language: dict[str, list[Document]] = {}
        for doc in documents:
            code = detect_language(doc.text).code if doc.text.strip() else "en"
            by_language.setdefault("en" if code == "und" else code, []).append(doc)
        for language, docs in sorted(by_language.items()):
            nlp = _ner_pipeline(language)
            if nlp is None:
                from nlp_coder.language import language_name

                self._scan.notes.append(
                    f"no trained spaCy pipeline with named-entity recognition is installed for "
                    f"{language_name(language)} ({len(docs)} document(s): {', '.join(d.id for d in docs[:3])}"
                    f"{' ...' if len(docs) > 3 else ''}): names of people there were replaced only where the key "
                    "file lists them or they are speaker labels; list the others in the key file")
                continue
            for doc in nlp.pipe((d.text for d in docs), batch_size=8):
                for ent in doc.ents:
                    kind = {"PERSON": "person", "PER": "person", "GPE": "place", "LOC": "place", "FAC": "place",
                            "ORG": "organisation"}.get(ent.label_)
                    if kind is None:
                        continue
                    names = [t for t in ent if t.pos_ == "PROPN"]  # "Getting Mia" -> "Mia"
                    if not names:
                        continue
                    surface = doc[names[0].i:names[-1].i + 1].text.strip(" '’.,")
                    if surface.endswith(("'s", "’s")):
                        surface = surface[:-2]
                    if len(surface) < 2 or not surface[0].isupper() or is_role_label(surface):
                        continue
                    words = [t.text for t in names]
                    entry = self.learn(surface, kind, "named entity")
                    last = words[-1] if len(words) > 1 else ""
                    if kind == "person" and len(last) > 1 and last.casefold() not in TITLES \
                            and self._lookup(last, "person") is None and not is_role_label(last):
                        self._also(entry, last)  # "Dr Okafor", "Mia Brown": the surname alone too

    def _also(self, entry: KeyEntry, surface: str) -> None:
        """Add another spelling to an entry of the key."""
        i = self._entries.index(entry)
        self._entries[i] = dataclasses.replace(entry, also=(*entry.also, surface))
        for s in self._entries[i].surfaces:
            self._by_surface[_fold(s, entry.kind)] = self._entries[i]
        self._pattern = None
        self._added += 1

    @property
    def report(self) -> PseudonymisationReport:
        """Per kind, the names replaced in the documents scanned and their mentions; the notes."""
        kinds = {e.pseudonym: e.kind for e in self._entries}
        names: Counter[str] = Counter()
        mentions: Counter[str] = Counter()
        for pseudonym, n in self._scan.mentions.items():
            names[kinds.get(pseudonym, "person")] += 1
            mentions[kinds.get(pseudonym, "person")] += n
        return PseudonymisationReport(tuple((k, names[k], mentions[k]) for k in KINDS), tuple(self._scan.notes),
                                      str(self.path) if self.path else "", self._added)

    # -- replacing --------------------------------------------------------------------------------
    def apply(self, text: str, *, labels: bool = False) -> tuple[str, tuple[Replacement, ...]]:
        """``text`` with every known name, e-mail address and phone number replaced, and the
        replacements (offsets into ``text``). E-mail addresses and phone numbers not in the key
        yet are added to it. With ``labels``, a name that is a speaker label (at the start of a
        line, before a colon) becomes ``Person 3:``, which transcript readers take for a label."""
        if not text:
            return text, ()
        out: list[str] = []
        done: list[Replacement] = []
        last = 0
        for match in self._regex().finditer(text):
            kind = match.lastgroup
            surface = match.group()
            if kind == "phone" and not _is_phone(surface):
                continue
            if kind == "name":
                entry = self._by_surface[surface]
            else:
                assert kind is not None
                entry = self.learn(surface, kind, "pattern")
            pseudonym = entry.pseudonym
            if labels and kind == "name" and _LABEL_AFTER.match(text, match.end()) \
                    and not text[text.rfind("\n", 0, match.start()) + 1:match.start()].strip(" \t*_"):
                pseudonym = pseudonym.strip("[]")
            out.append(text[last:match.start()])
            out.append(pseudonym)
            done.append(Replacement(match.start(), match.end(), entry.kind, pseudonym))
            last = match.end()
        if not done:
            return text, ()
        out.append(text[last:])
        return "".join(out), tuple(done)

    def text(self, text: str) -> str:
        """:meth:`apply`'s text alone. A lower-case text (a keyword) is also matched whatever the
        case of the names."""
        replaced = self.apply(text)[0]
        if replaced == text and text and text.islower() and len(text) < 80:
            words = re.split(r"(\W+)", text)
            folded = {s.casefold(): e for e in self._entries if e.kind not in ("email", "phone") for s in e.surfaces}
            whole = folded.get(text.casefold())
            if whole is not None:
                return whole.pseudonym
            replaced = "".join(folded[w].pseudonym if w in folded else w for w in words)
        return replaced

    def walk(self, value: Any) -> Any:
        """``value`` with :meth:`text` applied to every string inside it: in dictionaries (keys
        and values), lists, tuples, sets and dataclass objects (a copy; numbers and arrays are
        left as they are). Offsets are not changed: they keep pointing into the original text."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return type(value)((self.walk(k), self.walk(v)) for k, v in value.items()) if value else value
        if isinstance(value, (list, tuple, set, frozenset)):
            if not value:
                return value
            items = [self.walk(v) for v in value]
            if isinstance(value, tuple) and hasattr(value, "_fields"):
                return type(value)(*items)
            return type(value)(items)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            copy = object.__new__(type(value))
            for name, item in vars(value).items():
                object.__setattr__(copy, name, self.walk(item))
            return copy
        return value

    def document(self, doc: Document) -> tuple[Document, OffsetMap]:
        """The document with its text and name pseudonymised, its turns' spans (and speakers) moved
        onto the new text, and the map of old offsets to new ones (for codings and selections)."""
        text, done = self.apply(doc.text, labels=True)
        offsets = OffsetMap(done)
        turns = tuple(dataclasses.replace(
            t, speaker=self.text(t.speaker) if t.speaker else t.speaker,
            spans=tuple(Span(offsets.start(s.start), offsets.end(s.end)) for s in t.spans)) for t in doc.turns)
        return dataclasses.replace(doc, id=self.text(doc.id), text=text, turns=turns, source=self.text(doc.source),
                                   attributes=self.walk(doc.attributes), warnings=()), offsets

    def decisions(self, decided: Any) -> Any:
        """A chunk's :class:`~nlp_coder.match.decide.Decisions` with its fragments (text, speaker,
        attributes) and codes (exemplars) pseudonymised; scores and offsets unchanged."""
        copy = object.__new__(type(decided))
        vars(copy).update(vars(decided))
        object.__setattr__(copy, "fragments", self.walk(decided.fragments))
        object.__setattr__(copy, "codes", self.walk(decided.codes))
        return copy

    def manifest(self, manifest: Any) -> Any:
        """A run manifest with what was replaced (counts per kind, and the notes) under the
        parameter ``pseudonymisation``; never a name."""
        if manifest is None:
            return None
        walked = self.walk(manifest)  # its reading report names speakers, its warnings quote text
        return dataclasses.replace(walked, parameters=(*walked.parameters,
                                                       ("pseudonymisation", self.report.as_dict())))

    def save(self) -> None:
        """Write the key file when names were added or when it does not exist yet (owner-only)."""
        if self.path is not None and (self._added or not self.path.exists()):
            write_key_file(self.path, self.key)


class OffsetMap:
    """Moves offsets of a text onto its pseudonymised version (:meth:`Pseudonymiser.document`)."""

    def __init__(self, replacements: Sequence[Replacement]) -> None:
        self._starts = [r.start for r in replacements]
        self._ends = [r.end for r in replacements]
        shift = 0
        self._shift: list[int] = []  # the shift after each replacement
        for r in replacements:
            shift += len(r.pseudonym) - (r.end - r.start)
            self._shift.append(shift)
        self._replacements = list(replacements)

    def _at(self, offset: int, *, end: bool) -> int:
        i = bisect.bisect_right(self._ends, offset)  # replacements that end at or before offset
        before = self._shift[i - 1] if i else 0
        if i < len(self._starts) and self._starts[i] < offset:  # inside a replaced name
            r = self._replacements[i]
            return r.start + before + (len(r.pseudonym) if end else 0)
        return offset + before

    def start(self, offset: int) -> int:
        """Where a span starting at ``offset`` starts in the new text (a name cut in two: its start)."""
        return self._at(offset, end=False)

    def end(self, offset: int) -> int:
        """Where a span ending at ``offset`` ends in the new text (a name cut in two: its end)."""
        return self._at(offset, end=True)


_NER_CACHE: dict[str, Any] = {}


def _ner_pipeline(language: str) -> Any | None:
    """The installed trained spaCy pipeline for ``language`` with its named-entity recogniser, or None."""
    if language in _NER_CACHE:
        return _NER_CACHE[language]
    import importlib.util

    from nlp_coder.embed.registry import load_registry
    from nlp_coder.segment import import_spacy

    nlp = None
    for spec in load_registry().spacy:
        if language in spec.languages and importlib.util.find_spec(spec.module) is not None:
            # the recogniser, and the tagger for proper nouns: no parser or lemmas
            loaded = import_spacy().load(spec.module, exclude=["parser", "lemmatizer", "senter"])
            if "ner" in loaded.pipe_names:
                nlp = loaded
                break
    _NER_CACHE[language] = nlp
    return nlp


def pseudonymiser_for(key_file: str | Path, corpus: Any, metadata: str | Path | None = None, *,
                      outputs: Sequence[str | Path | None] = (), ner: bool = True) -> Pseudonymiser:
    """The pseudonymiser of ``--pseudonymise KEYFILE`` for ``corpus`` (a path, or documents
    already read), with the corpus scanned (:meth:`Pseudonymiser.scan`).

    Raises:
        InputError: the key file is one of ``outputs`` (``E131``: it would be overwritten and
            shared), invalid (``E160``) or unreadable (``E161``).
    """
    pseudonymiser = open_key_file(key_file, outputs=outputs)
    documents = _documents(corpus, metadata)
    pseudonymiser.scan(documents, ner=ner)
    return pseudonymiser


def open_key_file(key_file: str | Path, *, outputs: Sequence[str | Path | None] = ()) -> Pseudonymiser:
    """:meth:`Pseudonymiser.from_keyfile`, refusing (``E131``) a key file that is one of ``outputs``
    (it would be overwritten, and shared with the output)."""
    key_path = Path(key_file)
    for out in outputs:
        if out is not None and _same_file(Path(out), key_path):
            raise InputError("the key file cannot be an output", str(key_file),
                             "Give the key file and the output different names", code="E131")
    return Pseudonymiser.from_keyfile(key_path)


def _documents(corpus: Any, metadata: str | Path | None) -> Sequence[Document]:
    if isinstance(corpus, (list, tuple)):
        return corpus
    from nlp_coder.run import read_corpus

    return read_corpus(corpus, metadata).documents


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def pseudonymised_project(documents: Sequence[Document], pseudonymiser: Pseudonymiser, *, codings: Sequence[Any] = (),
                          markers: Sequence[Any] = ()) -> tuple[tuple[Document, ...], tuple[Any, ...], tuple[Any, ...]]:
    """The documents of a ``.qdpx`` with their text pseudonymised, and ``codings``
    (:class:`~nlp_coder.refi.model.Coding`) and ``markers`` (:class:`~nlp_coder.refi.write.Marker`)
    moved onto the new text (their notes and labels pseudonymised too): the project round-trips, each
    selection covering the pseudonymised text of what it covered."""
    maps: dict[str, tuple[str, OffsetMap]] = {}
    out_docs = []
    for doc in documents:
        new, offsets = pseudonymiser.document(doc)  # a document named after someone is renamed too
        out_docs.append(new)
        maps[doc.id] = (new.id, offsets)

    def moved(item: Any) -> Any:
        if item.document not in maps:
            return item
        new_id, offsets = maps[item.document]
        text = {name: pseudonymiser.text(getattr(item, name)) for name in ("note", "label") if hasattr(item, name)}
        return dataclasses.replace(item, document=new_id, start=offsets.start(item.start), end=offsets.end(item.end),
                                   **text)

    return tuple(out_docs), tuple(moved(c) for c in codings), tuple(moved(m) for m in markers)


def write_pseudonymised_qdpx(out: str | Path, corpus: str | Path, documents: Sequence[Document], codebook: Any,
                             results: Sequence[Any], pseudonymiser: Pseudonymiser) -> None:
    """``suggest --format qdpx --pseudonymise``: a new project of the pseudonymised documents with
    the suggestions (and, when the corpus is a ``.qdpx``, its human codings) moved onto the new
    text. The corpus project's own archive is not copied: it holds the original text."""
    from nlp_coder.refi.read import read_qdpx
    from nlp_coder.refi.write import build_qdpx, suggestion_codings, write_atomic_bytes

    human: tuple[Any, ...] = ()
    if Path(corpus).suffix.casefold() == ".qdpx" and Path(corpus).is_file():
        human = read_qdpx(corpus).codings
    docs, codings, _ = pseudonymised_project(documents, pseudonymiser,
                                             codings=(*human, *suggestion_codings(results)))
    data = build_qdpx(documents=docs, codebook=pseudonymiser.walk(codebook), codings=codings,
                      name=pseudonymiser.text(Path(corpus).stem) or "nlp-coder project")
    write_atomic_bytes(out, data)
