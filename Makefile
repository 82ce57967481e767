# Two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; a plain `torch` requirement would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup demo report test test-fast clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with nlp_coder, torch (CPU), the packaged models and pytest

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

clean:
	rm -rf out .pytest_cache
