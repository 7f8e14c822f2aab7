# The two commands of the README: `make run` and `make test`. Everything else is their plumbing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LB     := $(BIN)/layerbridge
STAMP  := $(VENV)/.installed
PLUGINS := common photoshop figma

.PHONY: run test install test-python test-plugins chromium schema bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,desktop,ray]"
	touch $@

install: $(STAMP)

## run: set up, build the tiny demo model when no model exists, start the daemon
run: $(STAMP)
	$(LB) models demo --if-empty
	$(LB) serve

## test: every suite, Python and TypeScript
test: test-python test-plugins

# The tray's tests run in a process of their own, as the tray does: no torch beside Qt.
test-python: $(STAMP)
	$(BIN)/python -m pytest -q --ignore=tests/desktop
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q tests/desktop

test-plugins: $(STAMP) chromium
	@for p in $(PLUGINS); do \
	  if [ -f plugins/$$p/package.json ]; then \
	    echo "== plugins/$$p"; \
	    (cd plugins/$$p && npm ci --no-audit --no-fund --loglevel=error && npm test) || exit 1; \
	  fi; \
	done

# Browser tests drive the system Chromium (no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need Chromium: sudo apt-get install chromium"; exit 1; fi; }

## schema: regenerate the committed JSON Schema and the TypeScript types after changing daemon/protocol
schema: $(STAMP)
	$(LB) protocol schema > plugins/common/protocol.schema.json
	cd plugins/common && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run generate

bench: $(STAMP)
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/transport.py
	$(BIN)/python bench/selection_cost.py
	$(BIN)/python bench/switch.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) .pytest_cache plugins/*/node_modules plugins/*/dist
