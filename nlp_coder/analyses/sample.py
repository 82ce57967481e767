"""Draw fragments for a second coder: a simple random or a stratified random sample.

The sample is written without anyone's codes: as a CSV with empty ``code`` and ``coder``
columns (fill them in, one row per code, and give the file to ``nlp-coder agree``), or as a
``.qdpx`` holding the sampled documents and the codebook, with each sampled fragment marked by
an uncoded selection ("sample 3 of 40") for the second coder to code in their own tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nlp_coder.errors import InputError
from nlp_coder.records import Fragment

MISSING = "(missing)"


@dataclass(frozen=True)
class Sample:
    """The sampled fragments in document order, with the stratum sizes drawn from."""

    fragments: tuple[Fragment, ...]
    strata: tuple[tuple[str, int, int], ...]  # (value, fragments in the corpus, fragments drawn)
    seed: int
    stratify_by: str | None = None


def draw_sample(fragments: Sequence[Fragment], n: int, *, seed: int, stratify_by: str | None = None) -> Sample:
    """Draw ``n`` fragments at random, or per stratum in proportion to its size.

    Proportional allocation uses the largest remainder, so the strata sizes add up to ``n``;
    a stratum never gets more fragments than it has. The same fragments and seed give the same
    sample.

    Raises:
        InputError: ``n`` is not between 1 and the number of fragments, or no fragment has the
            stratifying attribute.
    """
    if not 1 <= n <= len(fragments):
        raise InputError(f"cannot draw {n} of {len(fragments)} fragments", "--n",
                         f"Give a number from 1 to {len(fragments)}")
    rng = np.random.default_rng(seed)
    if stratify_by is None:
        chosen = sorted(rng.choice(len(fragments), size=n, replace=False).tolist())
        return Sample(tuple(fragments[i] for i in chosen), (("(all)", len(fragments), n),), seed)
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(fragments):
        groups.setdefault(f.attributes.get(stratify_by, MISSING), []).append(i)
    if set(groups) == {MISSING}:
        known = sorted({k for f in fragments for k in f.attributes})
        raise InputError(f"no fragment has the attribute '{stratify_by}'", "--stratify-by",
                         f"Attributes in this corpus: {', '.join(known) or 'none (add a metadata.csv)'}")
    names = sorted(groups)
    sizes = np.array([len(groups[g]) for g in names], dtype=float)
    quota = sizes * n / sizes.sum()
    counts = np.floor(quota).astype(int)
    for j in np.argsort(-(quota - counts), kind="stable")[: n - counts.sum()]:
        counts[j] += 1
    chosen = []
    for name, count in zip(names, counts):
        members = groups[name]
        chosen.extend(members[k] for k in rng.choice(len(members), size=int(count), replace=False).tolist())
    chosen.sort()
    return Sample(tuple(fragments[i] for i in chosen),
                  tuple((name, len(groups[name]), int(c)) for name, c in zip(names, counts)), seed, stratify_by)


def sample_as_csv(sample: Sample) -> str:
    """The sample as a codings CSV to fill in: ``document,start,end,code,coder`` first."""
    from nlp_coder.export.tables import _csv_text

    keys = sorted({k for f in sample.fragments for k in f.attributes})
    header = ["document", "start", "end", "code", "coder", "fragment_id", "speaker", "text", *keys]
    rows: list[list[object]] = [
        [f.document, f.start, f.end, "", "", f.id, f.speaker, f.text, *(f.attributes.get(k, "") for k in keys)]
        for f in sample.fragments
    ]
    return _csv_text(header, rows)
