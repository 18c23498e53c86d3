# Two commands: `make run` starts the lab, `make test` runs the tests.
# Each creates ./.venv on first use and installs the project's pinned requirements into it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run run-light test bench clean browser-deps postgres-deps

$(PY):
	$(PYTHON) -m venv $(VENV)

# A stamp per tier: reinstall when its requirement files change.
$(VENV)/.light: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt && touch $@
$(VENV)/.local: requirements.txt requirements-local.txt | $(PY)
	$(PY) -m pip install -q -r requirements-local.txt && touch $@
$(VENV)/.dev: requirements.txt requirements-local.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt && touch $@

run: $(VENV)/.local
	$(PY) -m streamlit run app.py --server.port $(PORT)

run-light: $(VENV)/.light   ## what Community Cloud runs: no torch, local models disabled
	$(PY) -m streamlit run app.py --server.port $(PORT)

# The browser test drives Debian's Chromium: Playwright's own browser download cannot work offline.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium is missing: 'sudo apt-get install chromium' (the browser test is skipped without it)"; fi; }

# The store's tests also run against a real PostgreSQL server (a throw-away one per test session,
# tests/postgres_server.py); without Debian's postgresql package they are skipped and say so.
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "PostgreSQL is missing: 'sudo apt-get install postgresql' (the PostgreSQL tests are skipped without it)"; fi; }

test: $(VENV)/.dev browser-deps postgres-deps
	$(PY) -m pytest

# BANKING77 is read in place from the shared folder beside the repository (a worktree looks one level up more);
# without it the BANKING77 benches are skipped with the reason, and every other bench still runs.
BANKING77 ?= $(firstword $(wildcard ../shared/datasets/banking77/train.csv ../../shared/datasets/banking77/train.csv))
BENCH ?= $(wildcard bench/*.py)

bench: $(VENV)/.dev
	@for b in $(BENCH); do \
	  case "$$b" in *banking77*) if [ -z "$(BANKING77)" ]; then \
	    echo "== $$b skipped: BANKING77 not found (../shared/datasets/banking77/train.csv is absent; the benches read it in place)"; \
	    continue; fi;; esac; \
	  echo "== $$b"; $(PY) $$b || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache
