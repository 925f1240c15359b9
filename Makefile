# hotich: two commands set everything up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hotich-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup serve test peers lock clean-venv labelstudio labelstudio-setup

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

test: setup labelstudio-setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# Label Studio in its own environment: it pins numpy<2.3, Django and ~150 packages that must not meet .venv.
# The install takes minutes (niced: the cores are shared); the first start migrates a database template once.
LS_VENV := .venv-ls
LS_STAMP := $(LS_VENV)/.hotich-installed
LS_CONSTRAINTS := annotation/labelstudio-constraints.txt
# `make labelstudio PORT=9000`; without PORT on the command line it is 8080 (PORT's default 8000 is serve's).
LS_PORT ?= $(if $(filter command line,$(origin PORT)),$(PORT),8080)

labelstudio-setup: $(LS_STAMP)

$(LS_STAMP): $(LS_CONSTRAINTS)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Label Studio 1.23 runs on it)"; exit 1; }
	@test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	nice -n 10 $(LS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c $(LS_CONSTRAINTS) \
		label-studio==1.23.2
	@touch $@

labelstudio: labelstudio-setup
	$(LS_VENV)/bin/python annotation/labelstudio_server.py --port $(LS_PORT) --data-dir .labelstudio --venv $(LS_VENV)

# The offline peers of benchmarks/peers.py: Tesseract with Vietnamese data (Debian) and asterocr (PyPI).
peers: setup
	command -v tesseract >/dev/null && ls /usr/share/tesseract-ocr/*/tessdata/vie.traineddata >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq tesseract-ocr tesseract-ocr-vie libtesseract-dev; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[peers]'

# Regenerates constraints.txt from the current environment (after a deliberate upgrade).
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^hotich' > constraints.txt
	test ! -x $(LS_VENV)/bin/python || { echo "# Pins of .venv-ls (Label Studio's own environment); regenerate with \`make lock\`."; \
		$(LS_VENV)/bin/python -m pip freeze --disable-pip-version-check; } > $(LS_CONSTRAINTS)

clean-venv:
	rm -rf $(VENV)
