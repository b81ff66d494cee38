# Two commands do all set-up on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
# Each Python gets a virtualenv of its own, named by its version: `make test` builds .venv-3.11 (with python3 being
# 3.11), `make test PYTHON=python3.13` builds .venv-3.13. A venv is made afresh when a requirements file changes.
PYTHON ?= python3
# What PYTHON says when asked its version, its errors included: a pyenv shim whose version is not installed or not
# selected explains why on stderr, and that explanation is shown when PYVER comes out empty (`|| true`: GNU make
# drops what a command said when it exits 127, as a shim does).
PYTHON_SAYS := $(shell $(PYTHON) -c 'import sys; v = sys.version_info; print(f"PYVER={v[0]}.{v[1]}" if v >= (3, 11) else "Python " + sys.version.split()[0])' 2>&1 || true)
PYVER := $(patsubst PYVER=%,%,$(filter PYVER=%,$(PYTHON_SAYS)))
VENV ?= .venv-$(PYVER)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint transport-check bench fuzz clean

$(STAMP): requirements.txt requirements-dev.txt
	$(if $(PYVER),,$(error $(PYTHON) is not a Python 3.11 or newer that runs here: set PYTHON to one. It said: $(PYTHON_SAYS)))
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# `make run` with a mistyped GRAPH or TRAFFIC stops here, as a mistyped SETUP stops devhost.
ifneq ($(filter run,$(MAKECMDGOALS)),)
ifneq ($(filter-out real,$(GRAPH)),)
$(error GRAPH=$(GRAPH) is not known: GRAPH=real calls real Graph; leave GRAPH out for the emulator)
endif
ifneq ($(filter-out off,$(TRAFFIC)),)
$(error TRAFFIC=$(TRAFFIC) is not known: TRAFFIC=off prints no traffic lines; leave TRAFFIC out to print them)
endif
ifneq ($(filter-out keys entra both,$(AUTH)),)
$(error AUTH=$(AUTH) is not known: AUTH=entra or AUTH=both puts App Service Authentication in front; leave AUTH out for keys)
endif
endif

## Serve the function on http://localhost:7071/api/GetJoinUrl with the Graph emulator on 7072 (GRAPH=real for real
## Graph; SETUP=no-role, no-lookup-role or no-policy starts the emulator in a broken set-up; each call the emulator
## answers is printed as a line, TRAFFIC=off for none; PORT=N serves on N with the emulator on N+1, EMULATOR_PORT=M
## puts the emulator on M; AUTH=entra or AUTH=both: callers sign in with Microsoft Entra ID, behind a stand-in of
## App Service Authentication).
run: $(STAMP)
	$(BIN)/python -m devhost $(if $(GRAPH),--real,) $(if $(SETUP),--setup $(SETUP),) $(if $(TRAFFIC),--quiet-traffic,) $(if $(PORT),--port $(PORT),) $(if $(EMULATOR_PORT),--emulator-port $(EMULATOR_PORT),) $(if $(AUTH),--auth $(AUTH),)

## Lint, type-check (mypy --strict, configured in pyproject.toml) and run every test.
test: lint
	$(BIN)/python -m pytest -q

## ruff, then mypy: its cache is the virtualenv's own, as the installed packages it reads differ by Python.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --cache-dir $(VENV)/.mypy_cache

# transport-check's virtualenv: the dev requirements as pinned, then REQUESTS and URLLIB3 installed over them.
CHECK_VENV := .venv-transport-$(PYVER)
CHECK_STAMP := $(CHECK_VENV)/.installed
REQUESTS ?= requests
URLLIB3 ?= urllib3

$(CHECK_STAMP): requirements.txt requirements-dev.txt
	$(if $(PYVER),,$(error $(PYTHON) is not a Python 3.11 or newer that runs here: set PYTHON to one))
	$(PYTHON) -m venv --clear $(CHECK_VENV)
	$(CHECK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(CHECK_STAMP)

## Run the transport's contract tests and its own tests against the newest requests and urllib3, in a virtualenv of
## their own (requirements.txt keeps the pins that ship); REQUESTS=requests==X URLLIB3=urllib3==Y tries those
## releases instead (docs/development.md, "Bumping requests or urllib3").
transport-check: $(CHECK_STAMP)
	$(CHECK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "$(REQUESTS)" "$(URLLIB3)"
	@echo "transport-check: trying $$($(CHECK_VENV)/bin/python -c 'from importlib.metadata import version as v; \
	print("requests==" + v("requests"), "urllib3==" + v("urllib3"))') against the transport's contract tests;" \
	"requirements.txt ships $$(grep -hE '^(requests|urllib3)==' requirements.txt | paste -sd ' ')."
	$(CHECK_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/test_graph_transport_contract.py tests/test_graph_transport.py

## The virtualenvs of every Python (.venv-*) and the tools' caches.
clean:
	rm -rf .venv-* .pytest_cache .ruff_cache

## Benchmark against the official msgraph-sdk and a raw requests call (own virtualenv, see bench/README.md).
bench: $(STAMP)
	$(BIN)/python bench/run.py

## Fuzz the API from the connector's OpenAPI definition with schemathesis, against the `make run` server.
fuzz: $(STAMP)
	$(BIN)/python connector/fuzz.py
