"""Split documents into fragments (sentences, turns or sentence windows) with spaCy.

Offsets are exact: every fragment satisfies ``fragment.text == document.text[start:end]``.
Sentences are found inside each turn span, never across a speaker label or a timestamp, with a
trained spaCy pipeline's sentence recogniser when one is installed, else a blank pipeline with
the rule-based sentencizer.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from nlp_coder import __version__
from nlp_coder.embed.models import load_registry
from nlp_coder.errors import InputError, ModelNotInstalledError
from nlp_coder.records import Document, Fragment, Span, Turn

if TYPE_CHECKING:
    from nlp_coder.language import LanguageGuess
    from nlp_coder.store import Store

#: Speaker labels recognised as the interviewer (case-insensitive, optional trailing number).
DEFAULT_INTERVIEWER_LABELS: tuple[str, ...] = (
    "interviewer", "i", "int", "iv", "ir", "q", "moderator", "facilitator", "researcher",
    "therapist", "counsellor", "counselor",
)

_WORD = re.compile(r"\w+(?:['’]\w+)*")

#: Words that do not count as words for ``min_words``: hesitation fillers and backchannels, per
#: language (lower case; a word is a run of letters and digits, so "mm-hmm" is "mm" + "hmm" and
#: "uh-huh" is "uh" + "huh"). Left out on purpose, because they also carry content: "yes", "no"
#: (answers), "like", "right", "well", "so", "sure", "alright", "I see" (see docs/transcripts.md);
#: in Dutch "nee" (an answer), "goed", "precies", "zeker", "inderdaad", "zo", "dus". A language
#: without a list counts every word (see docs/transcripts.md).
FILLERS: dict[str, frozenset[str]] = {
    "en": frozenset({
        "um", "umm", "uhm", "uh", "uhh", "er", "erm", "ah", "eh", "oh", "hm", "hmm", "mm", "mmm", "mhm",
        "huh", "yeah", "yeh", "yep", "yup", "okay", "ok",
    }),
    "nl": frozenset({
        "eh", "ehm", "uh", "uhm", "um", "hm", "hmm", "mm", "mmm", "mhm", "ah", "oh", "o", "ja", "jaja", "jah",
        "jawel", "oké", "oke", "okay", "ok", "tja", "hè", "nou",
    }),
}

#: Words that open a sentence continuing the one before (lower case): with ``join``, such a
#: sentence joins a short previous sentence of the same paragraph.
CONTINUATIONS: dict[str, frozenset[str]] = {
    "en": frozenset({"and", "but", "so", "because", "cause", "'cause", "cos", "or"}),
    "nl": frozenset({"en", "maar", "dus", "want", "omdat", "of"}),
}

#: The default ``max_words``: the default model reads 256 word pieces, and English speech runs at
#: roughly 1.2-1.3 word pieces per word (an estimate), so 200 words should fit, with room for
#: long words and punctuation.
DEFAULT_MAX_WORDS = 200
# Bracketed annotations such as "[laughs]" or "(pause)": a sentence boundary never falls inside.
_ANNOTATION = re.compile(r"\[[^\]\n]{1,60}\]|\([^)\n]{1,60}\)")


@dataclass(frozen=True)
class SegmentOptions:
    """How documents are cut into fragments and which speakers are coded.

    Attributes:
        unit: ``sentence``, ``turn`` or ``window`` (``window`` sentences, moving by ``stride``).
        min_words: fragments with fewer words (backchannels such as "Yeah.") merge with a
            neighbour in the same turn, or are skipped when there is none.
        speakers: code only these speakers (case-insensitive); empty means the default rule:
            every speaker except a recognised interviewer.
        exclude_speakers: never code these speakers.
        interviewer_labels: labels recognised as the interviewer.
        all_speakers: code every speaker, the interviewer too.
        fillers: the language of the filler list (:data:`FILLERS`) whose words do not count for
            ``min_words``; ``auto`` (the default), each document's language's list (every word
            counts in a language without one); ``none`` to count every word.
        join: join a sentence that does not stand alone to its neighbour in the same paragraph:
            one that ends without sentence punctuation when the next starts in lower case, and
            one that starts with a continuing conjunction ("And", "But", "So", "Because") when
            the sentence before it has fewer than ``2 * min_words`` words.
        max_words: fragments longer than this many words are cut into consecutive windows of at
            most this many words (at sentence boundaries where possible), never truncated; each
            cut is reported. ``0`` cuts nothing.
        language: ``auto`` (the default) reads each document in the language detected in it
            (:mod:`nlp_coder.language`): the spaCy pipeline, the filler list and the continuing
            conjunctions of that language. An ISO 639-1 code (``nl``) reads every document in it.
    """

    unit: str = "sentence"
    window: int = 3
    stride: int = 1
    min_words: int = 3
    speakers: tuple[str, ...] = ()
    exclude_speakers: tuple[str, ...] = ()
    interviewer_labels: tuple[str, ...] = DEFAULT_INTERVIEWER_LABELS
    all_speakers: bool = False
    pipeline: str = "auto"
    fillers: str = "auto"
    join: bool = True
    max_words: int = DEFAULT_MAX_WORDS
    language: str = "auto"

    def __post_init__(self) -> None:
        if self.unit not in ("sentence", "turn", "window"):
            raise InputError(f"unknown unit '{self.unit}'", "--unit", "Use sentence, turn or window", code="E130")
        if self.window < 1 or self.stride < 1:
            raise InputError("window and stride must be at least 1", "--window/--stride", code="E130")
        if self.min_words < 0:
            raise InputError("min-words cannot be negative", "--min-words", code="E130")
        if self.max_words < 0:
            raise InputError("max-words cannot be negative", "--max-words", code="E130")
        if self.fillers not in ("none", "auto") and self.fillers not in FILLERS:
            raise InputError(f"no filler list for '{self.fillers}'", "--fillers",
                             f"Use one of: auto, {', '.join(sorted(FILLERS))}, or none", code="E130")
        if self.language != "auto" and not re.fullmatch(r"[a-z]{2,3}", self.language):
            raise InputError(f"'{self.language}' is not a language code", "--language",
                             "Use auto, or an ISO 639-1 code such as en or nl", code="E130")

    def for_language(self, language: str) -> SegmentOptions:
        """These options for a document in ``language``: ``fillers`` ``auto`` becomes that
        language's filler list, or ``none`` where :data:`FILLERS` has none."""
        fillers = self.fillers
        if fillers == "auto":
            fillers = language if language in FILLERS else "none"
        return dataclasses.replace(self, language=language, fillers=fillers)


def word_count(text: str, fillers: str = "none") -> int:
    """Words in ``text``; with ``fillers`` (a language of :data:`FILLERS`), fillers and
    backchannels are not counted."""
    words = _WORD.findall(text)
    skip = FILLERS.get(fillers)
    if skip is None:  # none, or a language without a list
        return len(words)
    return sum(1 for w in words if w.lower() not in skip)


@dataclass(frozen=True)
class SegmentStats:
    """What segmenting a document did beyond finding sentences.

    Attributes:
        sentences: sentences found in the coded turns.
        filler_only: sentences made only of fillers and backchannels (merged or skipped).
        merged: sentences joined to a neighbour (short ones, filler-only ones, and with ``join``
            those that do not stand alone).
        joined: of ``merged``, those joined because they do not stand alone.
        skipped: sentences, turns or windows not coded because they are too short.
        cut: fragments longer than ``max_words`` that were cut into windows.
    """

    sentences: int = 0
    filler_only: int = 0
    merged: int = 0
    joined: int = 0
    skipped: int = 0
    cut: int = 0

    def __add__(self, other: SegmentStats) -> SegmentStats:
        return SegmentStats(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))


def is_interviewer(speaker: str | None, labels: Sequence[str] = DEFAULT_INTERVIEWER_LABELS) -> bool:
    """Whether a speaker label names the interviewer ("Interviewer", "I", "Int 2", "Q1", ...)."""
    if speaker is None:
        return False
    base = re.sub(r"[\s_-]*\d+$", "", speaker.strip()).lower().rstrip(".")
    return base in {label.lower() for label in labels}


def import_spacy() -> Any:
    """``import spacy``, keeping torch out of it where torch is not loaded yet.

    spaCy's machine-learning library (thinc) imports torch when it is installed, only to offer
    it as a backend: 1-2 s, a fifth of a cold run on the bundled example. The pipelines used
    here (the trained sentence recogniser, lemmas, the sentencizer) run on numpy, so torch is
    hidden while spaCy is imported (thinc then records it as absent) and is imported normally
    later by whatever needs it (sentence-transformers on a GPU). Should spaCy itself need
    torch, it is imported again without the veil.
    """
    import sys

    if "spacy" in sys.modules or "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` now raises ImportError
    try:
        import spacy
    except ImportError:  # pragma: no cover - a spaCy that cannot do without torch
        for name in [m for m in sys.modules if m == "spacy" or m.startswith(("spacy.", "thinc"))]:
            del sys.modules[name]
        del sys.modules["torch"]
        import spacy
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return spacy


@lru_cache(maxsize=8)
def load_pipeline(name: str = "auto", language: str = "en") -> Any:
    """A spaCy pipeline that sets sentence boundaries.

    Args:
        name: ``auto`` (the registered trained pipeline for ``language`` when installed, else
            ``blank``), ``blank`` (rule-based sentencizer, no model), or an installed pipeline's name.
        language: the text's language (ISO 639-1): ``blank`` is spaCy's blank pipeline for it
            (its tokenizer exceptions and punctuation rules), or the multi-language one
            (``xx``) where spaCy has none.
    """
    spacy = import_spacy()
    if name == "blank":
        try:
            nlp = spacy.blank(language)
        except (ImportError, KeyError, ValueError):  # spaCy has no language class for it
            nlp = spacy.blank("xx")
        nlp.add_pipe("sentencizer")
        return nlp
    if name == "auto":
        for spec in load_registry().spacy:
            if language in spec.languages and importlib.util.find_spec(spec.module) is not None:
                return _trained_senter(spec.module)
        return load_pipeline("blank", language)
    for spec in load_registry().spacy:
        if name in (spec.name, spec.module):
            if importlib.util.find_spec(spec.module) is None:
                raise ModelNotInstalledError(
                    f"spaCy pipeline '{spec.name}' is not installed. Install it: pip install {spec.package}")
            return _trained_senter(spec.module)
    if importlib.util.find_spec(name) is None:
        raise InputError(f"spaCy pipeline '{name}' is not installed", "--spacy",
                         "Use auto, blank, or an installed pipeline", code="E200")
    return _trained_senter(name)


@lru_cache(maxsize=1)
def load_analysis_pipeline() -> Any | None:
    """The registered trained pipeline with lemmas and noun chunks (for keywords), or None."""
    spacy = import_spacy()
    for spec in load_registry().spacy:
        if importlib.util.find_spec(spec.module) is not None:
            return spacy.load(spec.module, exclude=["ner"])
    return None


def _trained_senter(module: str) -> Any:
    spacy = import_spacy()
    # Only the fast sentence recogniser is needed here, not the parser, tagger or NER.
    nlp = spacy.load(module, exclude=["parser", "ner", "lemmatizer", "tagger", "attribute_ruler"])
    if "senter" in nlp.disabled:
        nlp.enable_pipe("senter")
    if not nlp.has_pipe("senter"):
        nlp.add_pipe("sentencizer")
    # The senter of spaCy's trained pipelines has its own token vectors; the shared tok2vec
    # feeds only the components left out above. Without a listener it is dead weight: five
    # sixths of the time, for the same sentences.
    if nlp.has_pipe("tok2vec") and not getattr(nlp.get_pipe("tok2vec"), "listening_components", None):
        nlp.remove_pipe("tok2vec")
    return nlp


def pipeline_name(nlp: Any) -> str:
    """A readable name for the manifest: ``en_core_web_sm-3.8.0 (senter)`` or ``blank:en (sentencizer)``."""
    meta = getattr(nlp, "meta", {}) or {}
    parts = "+".join(nlp.pipe_names)
    if not meta.get("version") or meta.get("name") == "pipeline":
        return f"blank:{meta.get('lang', nlp.lang)} ({parts})"
    return f"{meta.get('lang', 'xx')}_{meta.get('name')}-{meta.get('version')} ({parts})"


def segment(documents: Iterable[Document], options: SegmentOptions | None = None,
            nlp: Any | None = None) -> tuple[Fragment, ...]:
    """Fragments of the selected speakers' talk, in document order.

    Fragment ids are ``<document>#<turn>.<n>`` (1-based: the n-th fragment of the turn), so an
    id does not change when another speaker selection is made; rows of a fragment table keep
    their own id.
    """
    options = options or SegmentOptions()
    docs = list(documents)
    if nlp is None and any(not d.presegmented for d in docs):  # each language's pipeline
        return tuple(f for fragments in Segmenter(options).fragments_many(docs) for f in fragments)
    return tuple(f for fragments in segment_documents(docs, options, nlp) for f in fragments)


def segment_document(doc: Document, options: SegmentOptions, nlp: Any | None) -> list[Fragment]:
    """The fragments of one document (see :func:`segment`); ``nlp`` may be None for a fragment table."""
    return segment_documents([doc], options, nlp)[0]


def segment_documents(docs: Sequence[Document], options: SegmentOptions, nlp: Any | None) -> list[list[Fragment]]:
    """The fragments of each document, as :func:`segment_document` cuts them, with one pass of
    the pipeline over all of them (many short documents cost less together than one by one)."""
    return [fragments for fragments, _ in cut_documents(docs, options, nlp)]


def document_languages(docs: Sequence[Document], options: SegmentOptions) -> tuple[dict[str, str], tuple[str, ...]]:
    """The language each document is read in: ``options.language``, or with ``auto`` the one
    detected in it (:func:`nlp_coder.language.assign_languages`), with a warning per document
    whose language could not be told."""
    from nlp_coder.language import assign_languages, detect_language

    if options.language != "auto":
        return {doc.id: options.language for doc in docs}, ()
    return assign_languages({doc.id: detect_language(doc.text) for doc in docs})


def cut_documents(docs: Sequence[Document], options: SegmentOptions, nlp: Any | None,
                  languages: Mapping[str, str] | None = None) -> list[tuple[list[Fragment], SegmentStats]]:
    """:func:`segment_documents`, with what was merged, skipped and cut in each document.

    ``languages`` gives each document's language (its filler list and conjunctions; ``nlp`` is
    used for every document); by default :func:`document_languages`."""
    if languages is None and any(not d.presegmented for d in docs):
        languages = document_languages(docs, options)[0]
    out: list[tuple[list[Fragment], SegmentStats]] = [([], SegmentStats()) for _ in docs]
    talk: list[tuple[int, Document, list[Turn]]] = []
    for k, doc in enumerate(docs):
        coded = _coded_turns(doc, options)
        if doc.presegmented:
            out[k] = (_table_fragments(doc, coded), SegmentStats())
        else:
            talk.append((k, doc, [turn for turn in doc.turns if turn.index in coded]))
    for (k, doc, turns), spans in zip(talk, _sentences([(doc, turns) for _, doc, turns in talk], nlp)):
        fragments: list[Fragment] = []
        stats = SegmentStats()
        fitted = options.for_language(languages[doc.id]) if languages is not None else options
        for turn in turns:
            units, turn_stats = _units(doc.text, spans[turn.index], fitted)
            stats += turn_stats
            fragments.extend(_fragment(doc, turn, f"{doc.id}#{turn.index + 1}.{n}", start, end)
                             for n, (start, end) in enumerate(units, start=1))
        out[k] = (fragments, stats)
    return out


def cut_warning(doc_id: str, stats: SegmentStats, options: SegmentOptions) -> str | None:
    """The one line that reports a document's fragments cut into windows (None when none was)."""
    if not stats.cut:
        return None
    noun = {"sentence": "fragment", "turn": "turn", "window": "window"}[options.unit]
    n = stats.cut
    return (f"{doc_id}: {n} {noun}{'s' if n != 1 else ''} longer than {options.max_words} words "
            f"{'were' if n != 1 else 'was'} cut into windows of at most {options.max_words} words (max_words)")


def fragment_spans(fragments: Sequence[Fragment]) -> list[tuple[str, int, int, int]]:
    """``(id, turn, start, end)`` of each fragment: all a document needs to rebuild them."""
    return [(f.id, f.turn, f.start, f.end) for f in fragments]


def fragments_from_spans(doc: Document, spans: Sequence[Sequence[Any]]) -> list[Fragment]:
    """The fragments that :func:`fragment_spans` described, rebuilt from their document."""
    turns = {turn.index: turn for turn in doc.turns}
    return [_fragment(doc, turns[turn], fragment_id, start, end) for fragment_id, turn, start, end in spans]


def pipeline_identity(name: str = "auto", language: str = "en") -> str:
    """What sentence boundaries depend on, found without loading spaCy: its version and the
    pipeline package's, for text in ``language`` (a segmentation cache key part, with the language)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "?"

    base = f"spacy {installed('spacy')}"
    if name == "blank":
        return f"{base} blank"
    for spec in load_registry().spacy:
        if name == "auto" and language not in spec.languages:
            continue
        if name in ("auto", spec.name, spec.module) and importlib.util.find_spec(spec.module) is not None:
            return f"{base} {spec.module} {installed(spec.package)}"
    return f"{base} {'blank' if name == 'auto' else name}"


def coded_turns(doc: Document, options: SegmentOptions) -> set[int]:
    """The indices of the turns of ``doc`` that ``options`` code: every speaker but a recognised
    interviewer (or the speakers chosen), and text without a speaker unless it is a header."""
    return _coded_turns(doc, options)


def _coded_turns(doc: Document, options: SegmentOptions) -> set[int]:
    wanted = {s.lower() for s in options.speakers}
    excluded = {s.lower() for s in options.exclude_speakers}
    has_interviewer = any(is_interviewer(t.speaker, options.interviewer_labels) for t in doc.turns)
    coded: set[int] = set()
    for turn in doc.turns:
        speaker = turn.speaker.lower() if turn.speaker is not None else None
        if speaker is not None and speaker in excluded:
            continue
        if wanted:
            keep = speaker in wanted
        elif options.all_speakers:
            keep = True
        elif speaker is None:
            # Text without a speaker is coded, unless the reader found it to be a header.
            keep = not turn.header
        else:
            keep = not (has_interviewer and is_interviewer(turn.speaker, options.interviewer_labels))
        if keep:
            coded.add(turn.index)
    return coded


def _table_fragments(doc: Document, coded: set[int]) -> list[Fragment]:
    return [
        _fragment(doc, turn, turn.fragment_id or f"{doc.id}#{turn.index + 1}", turn.start, turn.end)
        for turn in doc.turns
        if turn.index in coded
    ]


def _fragment(doc: Document, turn: Turn, fragment_id: str, start: int, end: int) -> Fragment:
    return Fragment(
        id=fragment_id,
        document=doc.id,
        speaker=turn.speaker,
        turn=turn.index,
        start=start,
        end=end,
        text=doc.text[start:end],
        timestamp=turn.timestamp,
        attributes={**doc.attributes, **turn.attributes},
    )


def _sentences(items: Sequence[tuple[Document, Sequence[Turn]]], nlp: Any) -> list[dict[int, list[list[Span]]]]:
    """Per document, sentence spans per turn, grouped per turn span (sentences never cross a
    span). The pipeline runs once over every document's spans that need it."""
    results: list[dict[int, list[list[Span]]]] = []
    jobs = []
    for doc, turns in items:
        result: dict[int, list[list[Span]]] = {turn.index: [] for turn in turns}
        results.append(result)
        for turn in turns:
            for span in turn.spans:
                chunk = doc.text[span.start:span.end]
                if _one_sentence(chunk):
                    result[turn.index].append([span])
                else:
                    result[turn.index].append([])
                    jobs.append((result[turn.index], len(result[turn.index]) - 1, span, chunk))
    parsed_all = nlp.pipe((j[3] for j in jobs), batch_size=256) if jobs else ()
    for (groups, slot, span, chunk), parsed in zip(jobs, parsed_all):
        starts = sorted({s.start_char for s in parsed.sents} | {0})
        starts = _keep_annotations_whole(chunk, _after_punctuation(chunk, starts))
        sentences = []
        for a, b in zip(starts, starts[1:] + [len(chunk)]):
            piece = chunk[a:b]
            stripped = piece.strip()
            if not stripped:
                continue
            lead = len(piece) - len(piece.lstrip())
            sentences.append(Span(span.start + a + lead, span.start + a + lead + len(stripped)))
        groups[slot] = sentences
    return results


# Short text with no sentence-final punctuation before its end is one sentence: no model needed.
_INNER_BREAK = re.compile(r"[.!?…]+[\"'”’)\]]*\s|\n")


def _one_sentence(text: str) -> bool:
    return len(text) <= 80 and _INNER_BREAK.search(text) is None


_CLOSING = ".!?…,;:\"'”’)]"


def _after_punctuation(text: str, starts: list[int]) -> list[int]:
    """Move sentence starts past punctuation that closes the previous sentence.

    A trained sentence recogniser sometimes starts a sentence at the full stop that ends the
    one before ("No" + ". I found out..."); the punctuation belongs to the earlier sentence.
    """
    moved = set()
    for start in starts:
        while 0 < start < len(text) and text[start] in _CLOSING and not text[start - 1].isspace():
            start += 1
        moved.add(start)
    return sorted(moved)


def _keep_annotations_whole(text: str, starts: list[int]) -> list[int]:
    """Move sentence starts that fall inside "[laughs]"-style annotations to the annotation's start."""
    ranges = [(m.start(), m.end()) for m in _ANNOTATION.finditer(text)]
    if not ranges:
        return starts
    moved = set()
    for start in starts:
        for a, b in ranges:
            if a < start < b:
                start = a
                break
        moved.add(start)
    return sorted(moved)


def _units(text: str, groups: list[list[Span]], options: SegmentOptions) -> tuple[list[tuple[int, int]], SegmentStats]:
    sentences = [s for group in groups for s in group]
    if not sentences:
        return [], SegmentStats()
    fillers, min_words = options.fillers, options.min_words
    filler_only = 0
    if fillers != "none":
        filler_only = sum(1 for s in sentences
                          if word_count(text[s.start:s.end]) and not word_count(text[s.start:s.end], fillers))
    merged = joined = skipped = 0
    units: list[tuple[int, int]]
    if options.unit == "turn":
        whole = [(sentences[0].start, sentences[-1].end)]
        units = [(a, b) for a, b in whole if word_count(text[a:b], fillers) >= min_words]
        skipped = len(whole) - len(units)
    elif options.unit == "window":
        size, stride = options.window, options.stride
        last = max(len(sentences) - size, 0)
        windows = []
        for first in range(0, last + 1, stride):
            chunk = sentences[first:first + size]
            windows.append((chunk[0].start, chunk[-1].end))
        if windows and windows[-1][1] != sentences[-1].end:
            windows.append((sentences[max(len(sentences) - size, 0)].start, sentences[-1].end))
        units = [(a, b) for a, b in windows if word_count(text[a:b], fillers) >= min_words]
        skipped = len(windows) - len(units)
    else:
        units = []
        for group in groups:
            spans = [(s.start, s.end) for s in group]
            if options.join:
                spans, n = _join(text, spans, options)
                joined += n
            kept, n = _merge_short(text, spans, min_words, fillers)
            units.extend(kept)
            skipped += n
        merged = len(sentences) - len(units) - skipped
    out: list[tuple[int, int]] = []
    cut = 0
    for a, b in units:
        pieces = _windows(text, a, b, [s.start for s in sentences if a < s.start < b], options.max_words)
        cut += len(pieces) > 1
        out.extend(pieces)
    return out, SegmentStats(len(sentences), filler_only, merged, joined, skipped, cut)


# A sentence that ends a thought: sentence-final punctuation, maybe closed by quotes or brackets
# (an ellipsis trails off: it does not end one).
_ENDS_SENTENCE = re.compile(r"(?<!\.\.)[.!?][\"'”’)\]]*\s*$")


def _join(text: str, spans: list[tuple[int, int]], options: SegmentOptions) -> tuple[list[tuple[int, int]], int]:
    """Join sentences that do not stand alone to the one before (``SegmentOptions.join``): after
    a sentence that ends without sentence punctuation (or trails off in "..."), one that starts
    in lower case; after a
    sentence of fewer than ``2 * min_words`` words, one that starts with a continuing conjunction."""
    language = options.language if options.language != "auto" else (
        options.fillers if options.fillers in CONTINUATIONS else "en")
    continuations = CONTINUATIONS.get(language, frozenset())
    out: list[tuple[int, int]] = []
    joined = 0
    for a, b in spans:
        if out:
            pa, pb = out[-1]
            current = text[a:b]
            first = _WORD.search(current)
            opener = current[:first.end()].lstrip("\"'“‘([ ").lower() if first else ""
            mid_clause = _ENDS_SENTENCE.search(text[pa:pb]) is None and current[:1].islower()
            continuing = (opener in continuations
                          and word_count(text[pa:pb], options.fillers) < 2 * options.min_words)
            if mid_clause or continuing:
                out[-1] = (pa, b)
                joined += 1
                continue
        out.append((a, b))
    return out, joined


def _merge_short(text: str, spans: list[tuple[int, int]], min_words: int,
                 fillers: str = "none") -> tuple[list[tuple[int, int]], int]:
    """Merge sentences shorter than ``min_words`` (fillers not counted) into the next sentence
    of the same span, or into the previous one at the span's end; a span of only short
    sentences is kept if they reach ``min_words`` together, else skipped. Returns the units and
    the number of sentences skipped."""
    out: list[tuple[int, int]] = []
    pending: int | None = None
    pending_end = 0
    waiting = 0
    for start, end in spans:
        if word_count(text[start:end], fillers) < min_words:
            if pending is None:
                pending = start
            pending_end = end
            waiting += 1
            continue
        out.append((pending if pending is not None else start, end))
        pending, waiting = None, 0
    if pending is not None:
        if out:
            out[-1] = (out[-1][0], pending_end)
        elif word_count(text[pending:pending_end], fillers) >= min_words:
            out.append((pending, pending_end))
        else:
            return out, waiting
    return out, 0


_CLAUSE_END = re.compile(r"[,;:–—]\s*$")


def _windows(text: str, start: int, end: int, breaks: Sequence[int], max_words: int) -> list[tuple[int, int]]:
    """``text[start:end]`` as consecutive windows of at most ``max_words`` words (every word
    counts here: the model reads fillers too). Windows start at a sentence start (``breaks``)
    where one fits; a sentence longer than ``max_words`` is cut into even parts, after a comma
    or semicolon near the cut where there is one."""
    if not max_words:
        return [(start, end)]
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    n = len(words)
    if n <= max_words:
        return [(start, end)]
    starts = {next((k for k, (a, _) in enumerate(words) if a >= brk), n): brk for brk in breaks}
    firsts = sorted(set(starts) - {0, n})
    cuts: list[int] = []
    i = 0
    while n - i > max_words:
        fitting = [k for k in firsts if i < k <= i + max_words]
        if fitting:
            i = fitting[-1]
        else:
            stop = next((k for k in firsts if k > i), n)
            size = -(-(stop - i) // -(-(stop - i) // max_words))  # even parts of the long sentence
            target = i + size
            near = [k for k in range(max(i + 1, target - size // 4), min(target + size // 4, i + max_words) + 1)
                    if k < n and _CLAUSE_END.search(text[words[k - 1][0]:words[k][0]])]
            i = min(near, key=lambda k: (abs(k - target), k)) if near else target
        cuts.append(i)
    bounds = [start] + [starts.get(k, words[k][0]) for k in cuts]
    ends = [len(text[:b].rstrip()) for b in bounds[1:]] + [end]
    return list(zip(bounds, ends))


class Segmenter:
    """Cuts documents through the store's segmentation cache, the uncached ones of a call together.

    A document is cut again only when its text, turns, attributes, the segmentation options,
    the spaCy pipeline (package and version), the language detector's version, the language it
    is read in or nlp_coder's version changed; spaCy is loaded only when some document needs
    cutting. Each document is read in its language (:meth:`languages`): the language detected in
    it is cached with its fragments, so a cached run never loads the detector. Documents of each
    language are cut with that language's pipeline (:func:`load_pipeline`). ``warnings``
    collects one line per document whose fragments were cut into windows (:func:`cut_warning`),
    from the cache too, and per document whose language could not be told.
    """

    def __init__(self, options: SegmentOptions, store: Store | None = None) -> None:
        self.options = options
        self.store = store
        self.nlp: object | None = None  # the pipeline loaded last (None: no document needed cutting)
        self.pipelines: dict[str, str] = {}  # language -> the name of the pipeline its documents were cut with
        self.guesses: dict[str, LanguageGuess] = {}  # document id -> the language detected in it
        self.read_as: dict[str, str] = {}  # document id -> the language it is read in
        self._nlps: dict[str, Any] = {}
        self._keys: dict[str, str] = {}  # document id -> its cache key, computed once
        self._options = dataclasses.asdict(options)
        self.warnings: list[str] = []

    @functools.cached_property
    def _identity(self) -> str:
        """The pipeline's and the detector's packages and versions: looked up only when a
        transcript needs a key."""
        from nlp_coder.language import detector_identity

        return f"{pipeline_identity(self.options.pipeline)}; {detector_identity()}"

    @property
    def name(self) -> str:
        """The pipeline's name for the manifest (``none (fragment table)`` when none was needed;
        with documents in several languages, each language's, separated by ``;``)."""
        if not self.pipelines:
            return "none (fragment table)"
        return "; ".join(dict.fromkeys(self.pipelines[code] for code in sorted(self.pipelines)))

    def key(self, doc: Document) -> str:
        turns = [(t.index, t.speaker, [(sp.start, sp.end) for sp in t.spans], t.timestamp, t.fragment_id,
                  t.attributes, t.header) for t in doc.turns]
        blob = orjson.dumps([__version__, self._identity, self._options, doc.id, doc.text, doc.attributes, turns],
                            option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(blob).hexdigest()

    def _key(self, doc: Document) -> str:
        if doc.id not in self._keys:
            self._keys[doc.id] = self.key(doc)
        return self._keys[doc.id]

    def _lookup(self, doc: Document) -> tuple[str, dict[str, Any]] | None:
        """The cached ``(pipeline, entry)`` of ``doc``, if any."""
        hit = self.store.cached_segmentation(self._key(doc)) if self.store is not None else None
        if hit is None:
            return None
        cached = orjson.loads(hit[1])
        return (hit[0], cached) if isinstance(cached, dict) and "read_as" in cached else None

    def languages(self, docs: Sequence[Document]) -> dict[str, str]:
        """The language each document is read in: ``options.language``, or with ``auto`` the one
        detected in it (from the cache where it was cut before); a document whose language
        cannot be told is read in the main language of the documents seen so far, else English,
        with a warning (:func:`nlp_coder.language.assign_languages`)."""
        from nlp_coder.language import UNDETERMINED, LanguageGuess, assign_languages, detect_language

        new = list({doc.id: doc for doc in docs if doc.id not in self.read_as}.values())
        for doc in new:
            if self.options.language != "auto":
                self.guesses[doc.id] = LanguageGuess(self.options.language, 1.0)
                continue
            hit = None if doc.presegmented else self._lookup(doc)  # read again when it is cut: memory stays small
            if hit is not None:
                code, confidence = hit[1].get("language") or (UNDETERMINED, 0.0)
                self.guesses[doc.id] = LanguageGuess(code, confidence)
            else:
                self.guesses[doc.id] = detect_language(doc.text)
        read_as, warnings = assign_languages({doc.id: self.guesses[doc.id] for doc in new}, among=self.guesses)
        self.read_as.update(read_as)
        self.warnings.extend(warnings)
        return {doc.id: self.read_as[doc.id] for doc in docs}

    def _pipeline(self, language: str) -> Any:
        if language not in self._nlps:
            self._nlps[language] = load_pipeline(self.options.pipeline, language)
        self.nlp = self._nlps[language]
        return self.nlp

    def fragments_many(self, docs: Sequence[Document]) -> list[list[Fragment]]:
        """The fragments of each document: from the cache, else cut (all the uncached ones of a
        language in one pass of its pipeline) and cached, committed together."""
        out: list[list[Fragment]] = [[] for _ in docs]
        languages = self.languages([doc for doc in docs if not doc.presegmented])
        todo: dict[str, list[tuple[int, str]]] = {}
        for k, doc in enumerate(docs):
            if doc.presegmented:  # a fragment table: nothing to cut
                out[k] = segment_document(doc, self.options, None)
                continue
            language = languages[doc.id]
            hit = self._lookup(doc)
            key = self._keys.pop(doc.id, None)
            if hit is not None and hit[1]["read_as"] == language:
                self.pipelines.setdefault(language, hit[0])
                out[k] = fragments_from_spans(doc, hit[1]["spans"])
                self._note(doc, SegmentStats(**hit[1]["stats"]))
            else:
                todo.setdefault(language, []).append((k, key or self.key(doc)))
        for language, items in sorted(todo.items()):
            nlp = self._pipeline(language)
            name = pipeline_name(nlp)
            self.pipelines.setdefault(language, name)
            cut = cut_documents([docs[k] for k, _ in items], self.options, nlp,
                                {docs[k].id: language for k, _ in items})
            for (k, _), (fragments, stats) in zip(items, cut):
                out[k] = fragments
                self._note(docs[k], stats)
            if self.store is not None:
                self.store.save_segmentation([
                    (key, name, orjson.dumps({
                        "spans": fragment_spans(fragments), "stats": dataclasses.asdict(stats),
                        "language": [self.guesses[docs[k].id].code, self.guesses[docs[k].id].confidence],
                        "read_as": language}))
                    for (k, key), (fragments, stats) in zip(items, cut)])
        return out

    def _note(self, doc: Document, stats: SegmentStats) -> None:
        warning = cut_warning(doc.id, stats, self.options)
        if warning is not None:
            self.warnings.append(warning)
