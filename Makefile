# The two commands a newcomer needs (see README.md):
#   make run    set up .venv and run the main job: a local run of pipelines/training.yaml
#   make test   set up .venv and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test setup bench clean browser-deps editor-deps lock

$(STAMP): pyproject.toml constraints.txt
	@echo "dagc: setting up $(VENV): installing dagc and its pinned dependencies (first time a few minutes, quiet while pip works)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --progress-bar off -c constraints.txt -e ".[dev]"
	@touch $(STAMP)
	@echo "dagc: $(VENV) ready"

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/dagc run pipelines/training.yaml

test: $(STAMP) browser-deps editor-deps
	$(BIN)/python -m pytest

# The report's browser tests drive Debian's chromium with chromedriver. Install them when missing
# (CI runs as root on a fresh machine); without them those tests skip and say why.
browser-deps:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium and chromium-driver for the report's browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	    || echo "WARNING: could not install chromium; the browser tests will be skipped"; \
	else echo "WARNING: no chromium and no apt-get as root; the browser tests will be skipped"; fi

# The editor tests ask the real yaml-language-server (npm) what it completes from dagc's schemas.
# Installed under $(VENV)/node when npm is there; without it those tests skip and say why.
YLS_VERSION = 1.25.0
editor-deps:
	@if [ -x $(VENV)/node/node_modules/.bin/yaml-language-server ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  echo "installing yaml-language-server $(YLS_VERSION) for the editor tests"; \
	  npm install --silent --no-audit --no-fund --prefix $(VENV)/node yaml-language-server@$(YLS_VERSION) >/dev/null \
	    || echo "WARNING: could not install yaml-language-server; the editor tests will be skipped"; \
	else echo "WARNING: no npm; the editor tests (yaml-language-server) will be skipped"; fi

bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Refresh the pins on purpose: resolve the newest releases in a scratch venv and write constraints.txt.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e ".[dev]"
	{ sed -n '1,2p' constraints.txt; .lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e'; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .lock-venv

clean:
	rm -rf $(VENV) .dagc .pytest_cache
