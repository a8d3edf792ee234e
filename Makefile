# latent-probe developer tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The install is redone when the pins, the project metadata or the checkout's location change.
INSTALL_KEY := $(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)-$(shell echo "$(CURDIR)" | sha1sum | cut -c1-8)
STAMP := $(VENV)/.installed-$(INSTALL_KEY)
PYTEST_ARGS ?=

.PHONY: help install demo test test-fast lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install the project (editable; dev, timm and hf extras) under constraints.txt

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e ".[dev,timm,hf]"
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: install ## Train the quickstart (seed 003's ring, no download) and say how to view it
	$(BIN)/latent-probe fit --config configs/quickstart.yaml
	@echo "Open the report in a browser, or run: $(BIN)/tensorboard --logdir runs  (http://localhost:6006)"

# One worker per core: most tests wait on a subprocess or a single-threaded model, so two run at once nearly halve the time.
test: install ## Run the whole test suite (one pytest worker per core)
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

test-fast: install ## Run the tests not marked slow
	$(BIN)/python -m pytest -n auto -m "not slow" $(PYTEST_ARGS)

lint: install ## Check style with ruff
	$(BIN)/ruff check src tests benchmarks

BENCHMARKS := capture projector linear_probe memory throughput mnist_loader influence fit_overhead probe_size startup similarity

bench: install ## Run every benchmark (installs the bench extra: Captum, torch-cka), results as JSON under benchmarks/results/
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e ".[dev,timm,hf,bench]"
	@for b in $(BENCHMARKS); do echo "== $$b"; $(BIN)/python benchmarks/$$b.py --json benchmarks/results/$$b.json || exit 1; done

clean: ## Remove build outputs (keeps .venv and runs/)
	rm -rf build dist src/*.egg-info .pytest_cache
