# Two entry points: `make run` and `make test`. Each creates .venv when missing
# (or when pyproject.toml changed), so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps paperswithcode-client==0.3.1 tea-client==0.0.7 tea-console==0.0.6 tea==0.1.4 rich==9.11.1
	@# Build the advice index once now (about a second), so the first `careerbot advice` answers
	@# from the cache in ~0.4 s. Best effort: no writable cache directory only means building it later.
	-@$(BIN)/careerbot advice "how do I start" --db $(VENV)/warm-index.db >/dev/null 2>&1; rm -f $(VENV)/warm-index.db*
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/careerbot $(ARGS)

# PostgreSQL for the both-engines tests: a throwaway cluster for the run, from Debian's
# postgresql-common (`apt-get install postgresql`); without it those tests are skipped, saying so.
PGWRAP := $(shell command -v pg_virtualenv >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 \
            && echo pg_virtualenv -t -o fsync=off -o synchronous_commit=off -o max_connections=300)

# The suite, then a 30-second soak of the real `careerbot serve` against the local fakes with
# faults and a SIGKILL (about a minute or two in all; `make test SOAK=` skips it).
SOAK ?= 30
test: $(STAMP)
	$(PGWRAP) $(BIN)/python -m pytest $(PYTEST_ARGS)
	$(if $(SOAK),$(BIN)/python bench/soak.py --seconds $(SOAK) --kills 1 --check --cleanup)

bench: $(STAMP)
	$(BIN)/python bench/advice_bench.py
	$(BIN)/python bench/advice_eval.py

clean:
	rm -rf $(VENV) build *.egg-info
