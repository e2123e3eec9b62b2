# Two commands do everything on a fresh machine:
#   make run    install, build the sample index, open the chat page
#   make test   install, then run the whole test suite (real model, real server, real browser)
#   make test-fast   the model-free tests, for day-to-day work
VENV   ?= .venv
PYTHON ?= python3
HOST   ?= 127.0.0.1
PORT   ?= 7860
INDEX  ?= embeddings/sample
BIN     = $(VENV)/bin

.PHONY: run test test-fast install browser bench notebooks clean

run: install
	$(BIN)/qa-assistant serve --index $(INDEX) --host $(HOST) --port $(PORT) --build

test: install browser
	$(BIN)/python -m pytest

# day-to-day: the model-free tests only (well under a minute)
test-fast: install
	$(BIN)/python -m pytest -m "not e2e and not browser and not milvus" -q

install: $(VENV)/.installed

# The pip that `python3 -m venv` brings is used as is (no upgrade), so an install step an old pip
# would skip fails here too. torch is pinned to the CPU wheel (2.13.0) and installed first, so nothing pulls a CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser of its own).
browser:
	@{ command -v chromium >/dev/null 2>&1 && ls /usr/share/fonts/truetype/wqy/wqy-microhei.ttc >/dev/null 2>&1; } || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null; }

bench: install
	$(BIN)/python -m benchmarks.run --write-summary

notebooks: install
	$(BIN)/python notebooks/nbtools.py --notebooks

clean:
	rm -rf $(VENV) embeddings/*/ .pytest_cache test-artifacts
