# The two commands: `make run` and `make test`. Both create .venv and install the pinned
# requirements first, so a fresh machine with Python 3.11 and make needs nothing else.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run api migrate test stress lint format bench bench-detect clean browser

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

# The compiled forest walk (models/_walk.c): 4x faster scoring, same scores. Without a C
# compiler the build is skipped and the numpy walk serves.
WALK := models/_walk.so
$(WALK): models/_walk.c
	$(CC) -O2 -ffp-contract=off -shared -fPIC -o $@ $< || echo "no C compiler: numpy forest walk"

# The detector's per-expense modules compiled by Cython (models/compiled.py): half the CPU,
# same results. A build serves only the source it was made from; without Cython or a C
# compiler the modules run as Python.
COMPILED := models/_build/.built
$(COMPILED): $(STAMP) models/compiled.py $(addprefix models/,$(addsuffix .py,features evidence detector explain))
	$(BIN)/python -m models.compiled

NATIVE := $(WALK) $(COMPILED)

run: $(STAMP) $(NATIVE)  ## API + dashboard + entry app + demo stream, on embedded SQLite
	$(BIN)/python -m vigilante.launcher $(ARGS)

api: $(STAMP) $(NATIVE)  ## the API alone, reloading on code changes
	$(BIN)/uvicorn app:app --reload

migrate: $(STAMP)  ## bring VIGILANTE_DATABASE_URL's schema to the newest revision
	$(BIN)/python -m vigilante.migrate

browser:  ## Debian chromium for the real-browser test (apt, when missing and allowed)
	@.ci/ensure-chromium

test: $(STAMP) $(NATIVE) browser  ## lint, then the whole test suite (API tests on SQLite and on PostgreSQL)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

stress: $(STAMP) $(NATIVE)  ## SIGKILL mid-load x5 and 2 workers x 50 clients x 10,000 writes (bounded: 10 min)
	$(BIN)/python -m benchmarks.stress all --max-seconds 600

bench: $(STAMP) $(NATIVE)  ## API speed and memory -> docs/benchmarks.md (installs wrk when it can)
	command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null 2>&1 || true
	$(BIN)/python -m benchmarks.api
	$(BIN)/python -m benchmarks.profile  # where the time and memory of one request go
	$(BIN)/python -m benchmarks.scale  # SQLite and PostgreSQL (127.0.0.1:5432), 1 and 2 workers

bench-detect: $(STAMP) $(NATIVE)  ## detection quality through the real API (a few minutes; not in test)
	$(BIN)/python -m benchmarks.detect

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache $(WALK) models/_build
