"""Outputs: suggestions as JSONL, CSV, JSON or Markdown (:mod:`.tables`) and the HTML report
(:mod:`.html`). REFI-QDA projects are written by :mod:`nlp_coder.refi`."""
