# One-command set-up: the venv, pinned torch, the project, then the job.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | cksum | cut -d' ' -f1)
TORCH := torch==2.14.1 torchvision==0.29.1
DEMO_DATA ?= data/digits
DEMO_RUN ?= runs/demo
# 35 % of the images held out: 20 % of all to calibrate referral (about 500 images), 7 % to pick the epoch
DEMO_ARGS ?= --model tiny_cnn --weights none --epochs 30 --patience 30 --val-fraction 0.25 --calibration-share 0.93 --unlike-rate 0.01

.PHONY: install demo lint test test-fast bench clean

$(STAMP):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[test,lint,ray]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	test -d $(DEMO_DATA) || $(VENV)/bin/vislearn data sample digits $(DEMO_DATA)
	$(VENV)/bin/vislearn train classify --data $(DEMO_DATA) $(DEMO_ARGS) --out $(DEMO_RUN)

# Style (ruff) and the import layers with no cycles (import-linter contracts in pyproject.toml, docs/architecture.md).
lint: install
	$(VENV)/bin/ruff check vislearn tests tools benchmarks
	$(VENV)/bin/lint-imports --no-cache

# The whole suite (what CI runs); test-fast skips the few tests marked slow.
test: lint
	$(PY) -m pytest -q

test-fast: lint
	$(PY) -m pytest -q -m "not slow"

bench: install
	$(PY) benchmarks/train_overhead.py
	$(PY) benchmarks/predict_speed.py
	$(PY) benchmarks/embed_speed.py

clean:
	rm -rf $(DEMO_RUN) build *.egg-info
