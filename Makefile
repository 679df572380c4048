# Two commands matter: `make run` (the pipeline for a day on the local AWS) and `make test`. `make help` lists all.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The Airflow pin set of Amazon MWAA (Python 3.12): the DAGs are proven on it (tests/mwaa/); see infra/mwaa/README.md.
MWAA_VERSION ?= 3.3.1
MWAA_VENV := .venv-mwaa
MWAA_CONSTRAINTS := infra/mwaa/$(MWAA_VERSION)/airflow_constraints.txt infra/mwaa/$(MWAA_VERSION)/mwaa_essential_constraints.txt
# uv finds a Python 3.12 on PATH or downloads one; pyenv's is not on PATH unless selected, so name it when present.
MWAA_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) 3.12)
# The Glue 5.0 job runtime (PySpark 3.5.4 on Python 3.11) the local AWS runs Glue jobs on, apart from .venv's
# PySpark 4.3; local_aws/gluejob/runtimes.py maps GlueVersion "5.0" to it.
GLUE5_VENV := .venv-glue5
DATE ?= 2021-12-01
ROWS ?= 10000
PYTEST_ARGS ?=
BENCH_ARGS ?=
PORT ?= 8080

.PHONY: help venv mwaa-venv glue-runtime run backfill ui test test-fast lint bench package clean
.DEFAULT_GOAL := help

help: ## list the targets and their settings
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  settings: DATE=$(DATE) ROWS=$(ROWS) FROM= TO= PORT=$(PORT) PYTEST_ARGS= BENCH_ARGS="

# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on this project's machines) every Airflow
# task, DAG parse and CLI call would otherwise recompile what it imports (5.6 s -> 2.6 s to import the operators).
# uv comes from PATH, ~/.local/bin, or is installed by scripts/bootstrap-uv.sh (which copes with PEP 668).
$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-local-aws.txt requirements-checkov.txt
	uv=$$(scripts/bootstrap-uv.sh $(PYTHON)) && \
	$$uv venv --quiet --allow-existing --python 3.11 $(VENV) && \
	$$uv pip install --quiet --compile-bytecode --python $(PY) -r requirements-dev.txt && \
	$$uv venv --quiet --allow-existing --python 3.11 .venv-checkov && \
	$$uv pip install --quiet --compile-bytecode --python .venv-checkov/bin/python -r requirements-checkov.txt
	@touch $@

# What an MWAA worker has: MWAA's Airflow and constraints, plus requirements.txt installed under them.
$(MWAA_VENV)/.installed: requirements.txt $(MWAA_CONSTRAINTS)
	uv=$$(scripts/bootstrap-uv.sh $(PYTHON)) && \
	$$uv venv --quiet --allow-existing --python $(MWAA_PYTHON) $(MWAA_VENV) && \
	$$uv pip install --quiet --compile-bytecode --python $(MWAA_VENV)/bin/python -r requirements.txt \
		$$(grep -E '^apache-airflow==' infra/mwaa/$(MWAA_VERSION)/mwaa_essential_constraints.txt) \
		$(addprefix -c ,$(MWAA_CONSTRAINTS))
	@touch $@

# pyspark 3.5.4 is an sdist only (345 MB installed; the env is 667 MB). Measured with uv on 2 cores, 2026-11-30:
# 27 s with a cold cache at load 4.7; 52 s (cold cache) and 74 s (warm cache) at load 12-15 from other work.
$(GLUE5_VENV)/.installed: requirements-glue5.txt
	uv=$$(scripts/bootstrap-uv.sh $(PYTHON)) && \
	$$uv venv --quiet --allow-existing --python 3.11 $(GLUE5_VENV) && \
	$$uv pip install --quiet --compile-bytecode --python $(GLUE5_VENV)/bin/python -r requirements-glue5.txt
	@touch $@

venv: $(VENV)/.installed ## install .venv and .venv-checkov (uv) from the requirements files

mwaa-venv: $(MWAA_VENV)/.installed ## install .venv-mwaa: MWAA's Airflow 3.3.1 on Python 3.12 with requirements.txt

glue-runtime: $(GLUE5_VENV)/.installed ## install .venv-glue5: Glue 5.0's Spark 3.5.4 on Python 3.11, for local Glue jobs

run: venv glue-runtime ## the pipeline for one day on the local AWS, live per task (DATE=YYYY-MM-DD ROWS=N)
	scripts/system-deps.sh run
	$(PY) -m pipeline_tools.run_day --date "$(DATE)" --rows "$(ROWS)"

backfill: venv glue-runtime ## Airflow's backfill of the days FROM..TO (YYYY-MM-DD, both included), live per day and stage
	@[[ -n "$(FROM)" && -n "$(TO)" ]] || { echo "usage: make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD [ROWS=N]" >&2; exit 2; }
	scripts/system-deps.sh run
	$(PY) -m pipeline_tools.backfill --from-date "$(FROM)" --to-date "$(TO)" --rows "$(ROWS)"

ui: venv glue-runtime ## the Airflow UI on the local stack until Ctrl-C (http://127.0.0.1:PORT, prints the login)
	scripts/system-deps.sh run
	$(PY) -m pipeline_tools.ui --port "$(PORT)"

test: venv glue-runtime mwaa-venv ## ruff, then every test (end-to-end included) on two workers
	scripts/system-deps.sh test
	$(VENV)/bin/ruff check .
	@# loadfile: a module's tests share one worker, so a module-scoped stack is deployed and run once
	$(VENV)/bin/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test-fast: venv glue-runtime ## the tests without the slow end-to-end ones
	$(VENV)/bin/pytest -n 2 --dist loadfile -m "not e2e" $(PYTEST_ARGS)

lint: venv ## ruff
	$(VENV)/bin/ruff check .

bench: venv glue-runtime ## the benchmarks (about 10 minutes), written to bench/results.md
	scripts/system-deps.sh run
	$(PY) -m bench.run_all $(BENCH_ARGS)

package: venv ## the deployable layouts: dist/mwaa (DAG folder, requirements.txt) and dist/astro (an Astro project)
	$(PY) -m pipeline_tools.package --out dist

clean: ## delete the local state (.state: the local AWS's data, Airflow's home and logs) and build leftovers
	rm -rf .state airflow_home artifacts dist
