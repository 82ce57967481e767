"""Check a codebook for problems that make codes hard to tell apart (``nlp-coder codebook lint``).

Structural problems (bad YAML, unknown parents, cycles) are errors raised when the codebook is
loaded. Lint reports what loads fine but will code badly:

* ``few-examples``: a codable code with fewer exemplars than ``min_examples``;
* ``no-definition``: a codable code without a definition;
* ``duplicate-example``: the same quote listed under two codes;
* ``similar-codes``: a pair of codes of the same group whose exemplars are, on average, at least
  as similar to the other code's exemplars as to their own code's: the model cannot separate them;
* ``nearer-other-code``: an exemplar that, left out of its own code, the matcher scores higher
  (by more than ``margin``) for another code than for its own;
* ``container-examples``: exemplars on a ``codable: false`` code, which matching never uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np

from nlp_coder.match.matcher import build_matcher, codebook_texts
from nlp_coder.match.settings import resolve_settings
from nlp_coder.records import Code, Codebook, MatchSettings


@dataclass(frozen=True)
class LintFinding:
    """One problem found in a codebook."""

    check: str
    codes: tuple[str, ...]
    message: str
    line: int | None = None


def lint_codebook(codebook: Codebook, encode: Callable[[Sequence[str]], np.ndarray] | None = None, *,
                  min_examples: int = 3, settings: MatchSettings | None = None,
                  margin: float = 0.02, model: str = "default") -> tuple[LintFinding, ...]:
    """Findings for ``codebook``, structural ones first, then the ones that need vectors.

    Args:
        codebook: a loaded codebook.
        encode: texts to unit vectors; without it only the structural checks run.
        min_examples: fewer exemplars than this is reported.
        settings: the matcher's scoring settings (default: what ``suggest`` resolves for this
            codebook and ``model``, :func:`nlp_coder.match.settings.resolve_settings`); thresholds
            play no part here.
        margin: an exemplar is reported when another code outscores its own by more than this.
        model: the registered model whose method and definition weight score by default.
    """
    findings: list[LintFinding] = []
    codable = [c for c in codebook.codes if c.codable]
    for code in codable:
        if len(code.examples) < min_examples:
            findings.append(LintFinding("few-examples", (code.id,), f"code '{code.id}' has {len(code.examples)} "
                                        f"exemplar(s); give at least {min_examples}", code.line))
        if not code.definition:
            findings.append(LintFinding("no-definition", (code.id,), f"code '{code.id}' has no definition", code.line))
    for code in codebook.codes:
        if not code.codable and code.examples:
            findings.append(LintFinding("container-examples", (code.id,), f"code '{code.id}' is 'codable: false' "
                                        f"but has {len(code.examples)} exemplar(s), which matching never uses; move "
                                        "them to a child code", code.line))
    owner: dict[str, str] = {}
    for code in codable:
        for example in code.examples:
            key = " ".join(example.lower().split())
            if key in owner and owner[key] != code.id:
                findings.append(LintFinding("duplicate-example", (owner[key], code.id),
                                            f"the exemplar \"{_short(example)}\" is listed under both "
                                            f"'{owner[key]}' and '{code.id}'", code.line))
            owner.setdefault(key, code.id)
    if encode is None:
        return tuple(findings)
    texts = codebook_texts(codebook)
    if not any(c.examples for c in codable):
        return tuple(findings)
    matrix = encode(texts)
    lookup = {t: matrix[i] for i, t in enumerate(texts)}
    vectors = {c.id: np.stack([lookup[e] for e in c.examples]) for c in codable if c.examples}
    groups: dict[str | None, list[Code]] = {}
    for code in codable:
        if code.id in vectors:
            groups.setdefault(code.facet, []).append(code)
    # Scored as suggest scores (its method and definition weight); thresholds play no part here.
    settings = settings or replace(resolve_settings(codebook, model), threshold=0.0, margin=margin)
    for members in groups.values():
        findings.extend(_similar_pairs(codebook, members, vectors))
    findings.extend(_misplaced(codebook, lookup, settings, margin))
    return tuple(findings)


def _within(v: np.ndarray) -> float | None:
    if len(v) < 2:
        return None
    sims = v @ v.T
    n = len(v)
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def _similar_pairs(codebook: Codebook, members: list[Code], vectors: dict[str, np.ndarray]) -> list[LintFinding]:
    out = []
    for a, b in combinations(members, 2):
        if a.id in codebook.ancestors(b.id) or b.id in codebook.ancestors(a.id):
            continue
        within = [w for w in (_within(vectors[a.id]), _within(vectors[b.id])) if w is not None]
        if not within:
            continue
        cross = float((vectors[a.id] @ vectors[b.id].T).mean())
        if cross >= max(within):
            out.append(LintFinding(
                "similar-codes", (a.id, b.id),
                f"codes '{a.id}' and '{b.id}' are hard to separate: their exemplars are as similar across "
                f"the two codes ({cross:.2f}) as within either ({max(within):.2f}); sharpen the definitions or "
                "give more distinct exemplars", b.line))
    return out


def _misplaced(codebook: Codebook, lookup: dict[str, np.ndarray], settings: MatchSettings,
               margin: float) -> list[LintFinding]:
    """Leave each exemplar out of its code and score it with the matcher, as a fragment would be."""
    out = []
    for code in codebook.codes:
        if not code.codable or len(code.examples) < 2:
            continue
        group = [j for j, c in enumerate(codebook.codes) if c.facet == code.facet and c.codable]
        for i, example in enumerate(code.examples):
            kept = code.examples[:i] + code.examples[i + 1:]
            variant = replace(codebook, codes=tuple(replace(c, examples=kept) if c.id == code.id else c
                                                    for c in codebook.codes))
            matcher = build_matcher(settings).fit(variant, lookup)
            scores = matcher.decision_function(lookup[example][None, :])[0]
            own = float(scores[codebook.codes.index(code)])
            best = max((j for j in group if codebook.codes[j].id != code.id), key=lambda j: scores[j], default=None)
            if best is not None and float(scores[best]) > own + margin:
                other = codebook.codes[best].id
                out.append(LintFinding(
                    "nearer-other-code", (code.id, other),
                    f"exemplar \"{_short(example)}\" of '{code.id}' scores higher for '{other}' "
                    f"({float(scores[best]):.2f}) than for its own code ({own:.2f}) when left out of it", code.line))
    return out


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
