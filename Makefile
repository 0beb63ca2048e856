# The two set-up commands from the README:
#   make serve   create .venv, install, export the model and build the default index if missing or stale, serve
#   make test    create .venv, install (Chromium and the extension's npm packages too), run all tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX_DIR := $(or $(ASIDE_INDEX_DIR),var/index)
ONNX_DIR := $(or $(ASIDE_ONNX_DIR),var/model-onnx)
# The public evaluation datasets (never shipped): the quality tests skip without them, and fail
# under CI. The setting has no default; the tests use the copy beside the checkout unless told.
DATA_DIR := $(or $(ASIDE_DATA_DIR),$(abspath ../shared/data))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test index model install extension browser tools

install: $(VENV)/.installed

# torch goes first and pinned: an unpinned torch resolves to a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

index: $(INDEX_DIR)/manifest.json

# The model is exported first and the build embeds with it, as the service does (about twice
# torch's rate on 2 cores, same vectors); without a current export that passes the vector
# check the build says why and embeds with sentence-transformers.
$(INDEX_DIR)/manifest.json: | $(VENV)/.installed model
	ASIDE_ONNX_DIR=$(ONNX_DIR) $(BIN)/aside index build --out $(INDEX_DIR)

# The service embeds with the model exported to ONNX and OpenVINO (same vectors, a fifth of
# the start-up time, about twice as fast); if the export fails it embeds with sentence-transformers.
# An export made for other weights or by an older version is made again.
model: | $(VENV)/.installed
	$(BIN)/aside model export --out $(ONNX_DIR) --if-stale \
		|| echo "ONNX export failed: building and serving with sentence-transformers"

serve: install model index
	ASIDE_INDEX_DIR=$(INDEX_DIR) ASIDE_ONNX_DIR=$(ONNX_DIR) $(BIN)/aside serve

# The browser extension: npm packages from the lock file, then dist/chrome and dist/firefox.
extension/node_modules/.installed: extension/package.json extension/package-lock.json
	cd extension && npm ci --no-audit --no-fund
	touch $@

extension: extension/node_modules/.installed
	cd extension && npm run --silent build

# Browser tests drive Debian's Chromium (Playwright's own browser download does not work here).
browser: /usr/bin/chromium

/usr/bin/chromium:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver

# strace lets the Ray test (tests/index/test_ray_engine.py) see every socket Ray's processes
# open, and check that none reaches beyond loopback.
tools: /usr/bin/strace

/usr/bin/strace:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq strace

test: install extension browser tools
	$(BIN)/ruff check server index tests bench gunicorn.conf.py
	$(BIN)/mypy
	cd extension && npm test --silent
	cd extension && npx web-ext lint --source-dir dist/firefox --self-hosted
	ASIDE_DATA_DIR=$(DATA_DIR) $(BIN)/python -m pytest
