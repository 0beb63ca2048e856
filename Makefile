# The two set-up commands from the README:
#   make serve   create .venv, install, export the model, build the index if missing (the Factbook
#                first), serve, and bring the index up to the default sources in the background
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

.PHONY: serve test index model install install-dev install-sources extension browser tools

# What serving needs (make serve); the tests, linters and optional source kinds come on top
# (make test): a first serve downloads less.
install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# torch goes first and pinned: an unpinned torch resolves to a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The optional source kinds of the starter set (docs/sources.example.toml): web pages, MediaWiki
# dumps and ZIM files.
install-sources: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[html,mediawiki,zim]'

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

index: $(INDEX_DIR)/manifest.json

# The model is exported first and the build embeds with it, as the service does (about twice
# torch's rate on 2 cores, same vectors); without a current export that passes the vector
# check the build says why and embeds with sentence-transformers. A missing index starts
# small, so that the service answers within minutes of a clone: the Factbook entries of 36
# countries and territories often in the news (about 3,200 passages, under a minute of
# embedding); `make serve` then brings in the rest of the default sources while it serves,
# embedding only what the first index lacks.
FIRST_INDEX := factbook:us,ch,rs,up,uk,gm,fr,in,ja,mx,ca,br,is,ir,tu,ks,kn,sa,as,it,sp,pl,eg,sf,ni,pk,af,sy,iz,tw,ve,we,gz,ei,id,ar
$(INDEX_DIR)/manifest.json: | $(VENV)/.installed model
	ASIDE_ONNX_DIR=$(ONNX_DIR) $(BIN)/aside index build --out $(INDEX_DIR) --source $(FIRST_INDEX)

# The service embeds with the model exported to ONNX and OpenVINO (same vectors, a fifth of
# the start-up time, about twice as fast); if the export fails it embeds with sentence-transformers.
# An export made for other weights or by an older version is made again.
model: | $(VENV)/.installed
	$(BIN)/aside model export --out $(ONNX_DIR) --if-stale \
		|| echo "ONNX export failed: building and serving with sentence-transformers"

# Beside the service, in the background and niced, `aside index update` brings the index to
# the default sources (the Factbook and the Wikipedia summaries): on a first serve it adds the
# rest of them (about 33,000 passages, 5 to 6 minutes on two cores), and the running service
# swaps the new build in; later it finds nothing changed in a second, without loading the
# model. Its report: $(INDEX_DIR).update.log.
serve: install model index
	ASIDE_ONNX_DIR=$(ONNX_DIR) nohup nice -n 10 $(BIN)/aside index update $(INDEX_DIR) \
		--source factbook --source wikipedia > $(INDEX_DIR).update.log 2>&1 &
	ASIDE_INDEX_DIR=$(INDEX_DIR) ASIDE_ONNX_DIR=$(ONNX_DIR) $(BIN)/aside serve

# The browser extension: npm packages from the lock file, then dist/chrome and dist/firefox.
extension/node_modules/.installed: extension/package.json extension/package-lock.json
	cd extension && npm ci --no-audit --no-fund
	touch $@

extension: extension/node_modules/.installed
	cd extension && npm run --silent build

# Browser tests drive Debian's Chromium (Playwright's own browser download does not work here),
# and the shared scenarios Debian's Firefox ESR too (puppeteer-core over WebDriver BiDi).
browser: /usr/bin/chromium /usr/bin/firefox-esr

/usr/bin/chromium:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver

/usr/bin/firefox-esr:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq firefox-esr

# strace lets the Ray test (tests/index/test_ray_engine.py) see every socket Ray's processes
# open, and check that none reaches beyond loopback.
tools: /usr/bin/strace

/usr/bin/strace:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq strace

test: install-dev extension browser tools
	$(BIN)/ruff check server index tests bench gunicorn.conf.py
	$(BIN)/mypy
	cd extension && npm test --silent
	cd extension && npx web-ext lint --source-dir dist/firefox --self-hosted
	ASIDE_DATA_DIR=$(DATA_DIR) $(BIN)/python -m pytest
