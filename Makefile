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
test-python: $(STAMP) chromium
	$(BIN)/ruff check daemon desktop tests bench
	mkdir -p $(VENV)/mypy-path/layerbridge  # mypy cannot follow the editable install's import hook
	ln -sfn ../../../daemon $(VENV)/mypy-path/layerbridge/daemon
	ln -sfn ../../../desktop $(VENV)/mypy-path/layerbridge/desktop
	MYPYPATH=$(VENV)/mypy-path $(BIN)/mypy -p layerbridge.daemon -p layerbridge.desktop
	$(BIN)/python -m pytest -q --ignore=tests/desktop
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q tests/desktop

test-plugins: $(STAMP) chromium
	@for p in $(PLUGINS); do \
	  if [ -f plugins/$$p/package.json ]; then \
	    echo "== plugins/$$p"; \
	    (cd plugins/$$p && npm ci --no-audit --no-fund --loglevel=error && npm test) || exit 1; \
	  fi; \
	done

# Browser tests drive the system Chromium (no browser download); Qt renders offscreen but still
# needs EGL, xkbcommon, fontconfig and a font. Installed with apt when missing (CI runs as root).
SYSTEM_PACKAGES := chromium libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 fonts-dejavu-core
chromium:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else echo "tests need: sudo apt-get install $$missing"; exit 1; fi; fi

## schema: regenerate the committed JSON Schema and the TypeScript types after changing daemon/protocol
schema: $(STAMP)
	$(LB) protocol schema > plugins/common/protocol.schema.json
	cd plugins/common && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run generate

bench: $(STAMP)
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/transport.py
	$(BIN)/python bench/tls.py
	$(BIN)/python bench/selection_cost.py
	$(BIN)/python bench/switch.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) .pytest_cache plugins/*/node_modules plugins/*/dist
