# Two entry points for a fresh machine: `make demo` and `make test`. Each creates .venv and
# installs the project into it, with torch pinned through constraints.txt (CPU wheel).
VENV ?= .venv
PY := $(VENV)/bin/python
TRACK := $(VENV)/bin/track
DEMO := data/demo

.PHONY: setup demo test test-slow bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[learn,test]'
	touch $@

demo: setup
	$(TRACK) synth --out $(DEMO) --sequences 3 --seed 0 --split train
	$(TRACK) run --all --data-root $(DEMO) --tracker sort --experiment demo-sort --force
	$(TRACK) run --all --data-root $(DEMO) --tracker deepsort --appearance none --experiment demo-deepsort-motion --force
	$(TRACK) run --all --data-root $(DEMO) --tracker deepsort --appearance hist --experiment demo-deepsort-hist --force

test: setup
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow

bench: setup
	$(PY) -m tools.bench.compare_reference
	$(PY) -m tools.bench.speed

clean:
	rm -rf $(VENV) results $(DEMO)
