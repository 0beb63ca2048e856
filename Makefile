# The two set-up commands from the README:
#   make serve   create .venv, install, build the default index if it is missing, serve
#   make test    create .venv, install, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX_DIR := $(or $(ASIDE_INDEX_DIR),var/index)
export HF_HUB_OFFLINE := 1

.PHONY: serve test index install

install: $(VENV)/.installed

# torch goes first and pinned: an unpinned torch resolves to a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

index: $(INDEX_DIR)/manifest.json

$(INDEX_DIR)/manifest.json: | $(VENV)/.installed
	$(BIN)/aside index build --out $(INDEX_DIR)

serve: install index
	ASIDE_INDEX_DIR=$(INDEX_DIR) $(BIN)/aside serve

test: install
	$(BIN)/ruff check server index tests bench gunicorn.conf.py
	$(BIN)/mypy
	$(BIN)/python -m pytest
