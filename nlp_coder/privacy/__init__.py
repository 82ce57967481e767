"""Protecting the people in the transcripts: what the project store holds and forgetting a
document (:mod:`nlp_coder.privacy.store`), and pseudonymised outputs
(:mod:`nlp_coder.privacy.pseudonymise`).

The names below load their module on first use, so ``import nlp_coder.privacy`` stays instant.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "StoreInfo": "store", "ForgetResult": "store", "PruneResult": "store", "VacuumResult": "store",
    "store_info": "store", "forget_documents": "store", "documents_where": "store", "vacuum_store": "store",
    "prune_runs": "store",
    "Pseudonymiser": "pseudonymise", "Replacement": "pseudonymise", "KeyFile": "pseudonymise",
    "PseudonymisationReport": "pseudonymise", "read_key_file": "pseudonymise", "parse_key_file": "pseudonymise",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(f"nlp_coder.privacy.{_NAMES[name]}"), name)
    raise AttributeError(name)
