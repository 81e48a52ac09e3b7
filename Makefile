# Two entry points for a fresh machine: `make demo` and `make test`. Each creates .venv and
# installs the project into it, with torch pinned through constraints.txt (CPU wheel).
VENV ?= .venv
PY := $(VENV)/bin/python
TRACK := $(VENV)/bin/track
DEMO := data/demo

.PHONY: setup demo test test-slow bench clean fuzz kill-loop bench-scale

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[learn,test,onnx]'
	touch $@

demo: setup
	$(TRACK) demo

test: setup
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow

# Reliability: 10,000 generated cases per reader (FUZZ_EXAMPLES to change), the
# per-reader tallies in results/fuzz-report.json; the SIGKILL loops; the scale benchmark.
fuzz: setup
	mkdir -p results && rm -f results/fuzz-report.json
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-10000} FUZZ_REPORT=results/fuzz-report.json $(PY) -m pytest -q \
		-p no:cacheprovider -m slow -k fuzz --hypothesis-show-statistics \
		tests/robustness/test_fuzz_readers.py tests/robustness/test_untrusted_checkpoints.py
	cat results/fuzz-report.json

kill-loop: setup
	$(PY) -m pytest -q -s -m slow tests/robustness/test_interrupted_work.py

bench-scale: setup
	$(PY) -m tools.bench.scale --out results/scale.md

bench: setup
	$(PY) -m tools.bench.compare_reference
	$(PY) -m tools.bench.speed

clean:
	rm -rf $(VENV) results $(DEMO)
