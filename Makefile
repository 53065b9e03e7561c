# The two README commands: `make demo` and `make test`. Both bootstrap what they need, idempotently.
PY311      ?= python3
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PY310      ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.10.*/bin/python3.10) $(shell command -v python3.10 2>/dev/null))
VENV        = .venv
LAVA_VENV   = .venv-lava
SANAFE_VENV = .venv-sanafe
DEMO_OUT   ?= demo_out

.PHONY: demo test venv lava-venv sanafe-venv clean

$(VENV)/.stamp: pyproject.toml constraints.txt
	$(PY311) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt torch==2.13.0
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

$(LAVA_VENV)/.stamp: requirements-lava.txt
	@if [ -z "$(PY310)" ]; then echo "error: Python 3.10 not found (looked in $(PYENV_ROOT)/versions/3.10.* and PATH); Lava needs it" >&2; exit 2; fi
	$(PY310) -m venv $(LAVA_VENV)
	$(LAVA_VENV)/bin/pip install -q --upgrade pip
	$(LAVA_VENV)/bin/pip install -q -r requirements-lava.txt
	touch $@

# SANA-FE (GPL-3): the test oracle of the cost model, in its own environment, driven as a subprocess
$(SANAFE_VENV)/.stamp: requirements-sanafe.txt
	$(PY311) -m venv $(SANAFE_VENV)
	$(SANAFE_VENV)/bin/pip install -q --upgrade pip
	$(SANAFE_VENV)/bin/pip install -q -r requirements-sanafe.txt
	touch $@

venv: $(VENV)/.stamp
lava-venv: $(LAVA_VENV)/.stamp
sanafe-venv: $(SANAFE_VENV)/.stamp

demo: venv lava-venv
	$(VENV)/bin/snn2hw demo --out $(DEMO_OUT)

test: venv lava-venv sanafe-venv
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) $(LAVA_VENV) $(SANAFE_VENV) $(DEMO_OUT)
