"""Progress bars on the terminal (tqdm), with rate and time left; nothing when output is not a
terminal or the work is small."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from nlp_coder.records import Document

MIN_TOTAL = 256
"""Fewer texts than this get no bar: they are done before a bar would say anything."""


def text_progress(total: int, enabled: bool, label: str):  # type: ignore[no-untyped-def]
    """A progress bar of texts (only for ``total`` above a batch, on a terminal), else None."""
    if not enabled or total < MIN_TOTAL or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="text", file=sys.stderr, leave=False)


class RunProgress:
    """A progress bar of fragments coded, with rate and time left. The total is estimated from
    the share of the corpus' characters done, as documents are cut only when their turn comes."""

    def __init__(self, enabled: bool, documents: Sequence[Document], label: str) -> None:
        self.chars = sum(len(d.text) for d in documents) or 1
        self.done_chars = self.done = 0
        self._texts = self._shown = 0  # the current chunk's fragments, and how many the bar has counted
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=None, desc=label, unit="fragment", file=sys.stderr, leave=False,
                            dynamic_ncols=True)

    def chunk(self, texts: Sequence[str]) -> None:
        self._texts = len(texts)
        self._shown = 0

    def embedded(self, count: int, missing: int) -> None:
        """``count`` more of the chunk's ``missing`` texts are embedded: move on proportionally."""
        if self.bar is not None and missing:
            step = int(self._texts * count / missing)
            step = min(step, self._texts - self._shown)
            self._shown += step
            self.bar.update(step)

    def decided(self, fragments: int, chars: int) -> None:
        self.done += fragments
        self.done_chars += chars
        if self.bar is not None:
            self.bar.update(fragments - self._shown)
            self.bar.total = max(self.done, round(self.done * self.chars / max(self.done_chars, 1)))
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
