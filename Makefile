# hotich: two commands set everything up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hotich-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup serve test peers lock clean-venv

setup: $(STAMP)

# Re-installs only when the project or its pins change; otherwise `make setup` is a no-op.
# torch goes first from the local CPU wheel: installed later as a dependency, pip would fetch a CUDA build.
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (hotich needs Python 3.11)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $@

serve: setup
	HF_HUB_OFFLINE=1 $(BIN)/hotich serve --host $(HOST) --port $(PORT)

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# The offline peers of benchmarks/peers.py: Tesseract with Vietnamese data (Debian) and asterocr (PyPI).
peers: setup
	command -v tesseract >/dev/null && ls /usr/share/tesseract-ocr/*/tessdata/vie.traineddata >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq tesseract-ocr tesseract-ocr-vie libtesseract-dev; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[peers]'

# Regenerates constraints.txt from the current environment (after a deliberate upgrade).
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^hotich' > constraints.txt

clean-venv:
	rm -rf $(VENV)
