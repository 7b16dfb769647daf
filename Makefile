# gnnrec-course: every target creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COLAB_VENV := .venv-colab

export PYTHONHASHSEED := 0
# Data: $GNNREC_DATA_DIR, else the user cache; see README "Data".

.PHONY: help lab test test-unit test-notebooks course bench bench-scale notebooks lint test-browser test-colab-stack doctor clean

help:
	@echo "make lab               open the course in JupyterLab (sets up .venv on first use)"
	@echo "make test              run every test: unit tests, notebook sync, nbval over notebooks/ and solutions/"
	@echo "make course            execute every solution notebook, write HTML to build/, print timings"
	@echo "make bench             measure model quality and speed, rewrite benchmarks/RESULTS.md"
	@echo "make bench-scale       time and memory at MovieLens sizes up to 25M (synthetic data)"
	@echo "make notebooks         re-execute solutions/ and regenerate notebooks/ from them"
	@echo "make doctor            workshop pre-flight check"
	@echo "make test-browser      run every notebook (solution and student copy) in JupyterLab in headless Chromium"
	@echo "make test-colab-stack  unit tests + one notebook on Colab's library versions"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[test,lab]"
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests -q
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks/ solutions/ -q

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks/ solutions/ -q

course: $(STAMP)
	$(BIN)/python -m tools.course_runner --html build/

bench: $(STAMP)
	$(BIN)/python benchmarks/run_benchmarks.py

# Seconds per epoch and peak memory at ml-100k..ml-25m sizes (synthetic), 1 and 2 devices.
bench-scale: $(STAMP)
	$(BIN)/python benchmarks/bench_scale.py

notebooks: $(STAMP)
	$(BIN)/python -m tools.course_runner --inplace
	$(BIN)/python -m tools.notebooks build

doctor: $(STAMP)
	$(BIN)/gnnrec-course doctor

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check gnnrec_course tests benchmarks tools

test-browser: $(STAMP)
	$(BIN)/python -m pip install -e ".[browser]"
	$(BIN)/python tests/browser/run_browser_test.py

test-colab-stack:
	bash tests/colab_stack/run.sh

clean:
	rm -rf build .pytest_cache .ruff_cache
