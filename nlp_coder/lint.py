"""Check a codebook for problems that make codes hard to tell apart (``nlp-coder codebook lint``).

Structural problems (bad YAML, unknown parents, cycles) are errors raised when the codebook is
loaded. Lint reports what loads fine but will code badly:

* ``few-examples``: a codable code with fewer exemplars than ``min_examples``;
* ``no-definition``: a codable code without a definition;
* ``duplicate-example``: the same quote listed under two codes;
* ``similar-codes``: a pair of codes of the same group whose exemplars are, on average, as
  similar to each other's as to their own: the model cannot separate them;
* ``nearer-other-code``: an exemplar that, left out of its own code, scores higher for another
  code than for its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from nlp_coder.records import Code, Codebook


@dataclass(frozen=True)
class LintFinding:
    """One problem found in a codebook."""

    check: str
    codes: tuple[str, ...]
    message: str
    line: int | None = None


def lint_codebook(codebook: Codebook, encode: Callable[[Sequence[str]], np.ndarray] | None = None, *,
                  min_examples: int = 3, top_k: int = 3, similarity_gap: float = 0.02) -> tuple[LintFinding, ...]:
    """Findings for ``codebook``, structural ones first, then the ones that need vectors.

    Args:
        codebook: a loaded codebook.
        encode: texts to unit vectors; without it only the structural checks run.
        min_examples: fewer exemplars than this is reported.
        top_k: exemplars averaged when scoring (as in matching).
        similarity_gap: a pair is reported when its cross-code similarity comes within this of
            the lower of the two codes' own within-code similarity.
    """
    findings: list[LintFinding] = []
    codable = [c for c in codebook.codes if c.codable]
    for code in codable:
        if len(code.examples) < min_examples:
            findings.append(LintFinding("few-examples", (code.id,), f"code '{code.id}' has {len(code.examples)} "
                                        f"exemplar(s); give at least {min_examples}", code.line))
        if not code.definition:
            findings.append(LintFinding("no-definition", (code.id,), f"code '{code.id}' has no definition", code.line))
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
    texts = list(dict.fromkeys(e for c in codable for e in c.examples))
    if not texts:
        return tuple(findings)
    matrix = encode(texts)
    row = {t: i for i, t in enumerate(texts)}
    vectors = {c.id: matrix[[row[e] for e in c.examples]] for c in codable if c.examples}
    groups: dict[str | None, list[Code]] = {}
    for code in codable:
        if code.id in vectors:
            groups.setdefault(code.facet, []).append(code)
    for members in groups.values():
        findings.extend(_similar_pairs(codebook, members, vectors, similarity_gap))
        findings.extend(_misplaced(members, vectors, top_k))
    return tuple(findings)


def _within(v: np.ndarray) -> float | None:
    if len(v) < 2:
        return None
    sims = v @ v.T
    n = len(v)
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def _similar_pairs(codebook: Codebook, members: list[Code], vectors: dict[str, np.ndarray],
                   gap: float) -> list[LintFinding]:
    out = []
    for a, b in combinations(members, 2):
        if a.id in codebook.ancestors(b.id) or b.id in codebook.ancestors(a.id):
            continue
        within = [w for w in (_within(vectors[a.id]), _within(vectors[b.id])) if w is not None]
        if not within:
            continue
        cross = float((vectors[a.id] @ vectors[b.id].T).mean())
        if cross >= min(within) - gap:
            out.append(LintFinding(
                "similar-codes", (a.id, b.id),
                f"codes '{a.id}' and '{b.id}' are hard to separate: their exemplars are as similar across "
                f"the two codes ({cross:.2f}) as within them ({min(within):.2f}); sharpen the definitions or "
                "give more distinct exemplars", b.line))
    return out


def _misplaced(members: list[Code], vectors: dict[str, np.ndarray], top_k: int) -> list[LintFinding]:
    out = []
    for code in members:
        own = vectors[code.id]
        if len(own) < 2:
            continue
        for i, example in enumerate(code.examples):
            rest = np.delete(own, i, axis=0)
            x = own[i]
            own_score = _topk_mean(rest @ x, top_k)
            best_other, best_score = None, own_score
            for other in members:
                if other.id == code.id:
                    continue
                score = _topk_mean(vectors[other.id] @ x, top_k)
                if score > best_score:
                    best_other, best_score = other.id, score
            if best_other is not None:
                out.append(LintFinding(
                    "nearer-other-code", (code.id, best_other),
                    f"exemplar \"{_short(example)}\" of '{code.id}' scores higher for '{best_other}' "
                    f"({best_score:.2f}) than for its own code ({own_score:.2f})", code.line))
    return out


def _topk_mean(sims: np.ndarray, k: int) -> float:
    k = min(k, len(sims))
    return float(np.sort(sims)[-k:].mean())


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
