# The two README commands: `make demo` and `make test`. Both bootstrap what they need, idempotently.
PY311      ?= python3
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PY310      ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.10.*/bin/python3.10) $(shell command -v python3.10 2>/dev/null))
VENV        = .venv
LAVA_VENV   = .venv-lava
SANAFE_VENV = .venv-sanafe
SINABS3_VENV = .venv-sinabs3
DEMO_OUT   ?= demo_out

.PHONY: demo test venv lava-venv sanafe-venv sinabs3-venv clean

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

# Sinabs 3 (pins nir <= 1.0.4) for the NIR peer tests: its own nir/nirtorch/sinabs, torch & co. from the main venv
$(SINABS3_VENV)/.stamp: requirements-sinabs3.txt $(VENV)/.stamp
	rm -rf $(SINABS3_VENV)
	$(PY311) -m venv $(SINABS3_VENV)
	$(SINABS3_VENV)/bin/pip install -q --no-deps -r requirements-sinabs3.txt
	$(VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" \
	  > "$$($(SINABS3_VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/snn2hw_main_venv.pth"
	touch $@

venv: $(VENV)/.stamp
# lava-dl 0.6.0 pins torch 2.3, so it cannot be installed beside lava-nc 0.10 with our torch held: its wheel is
# fetched without dependencies and only netx (lava/lib/dl/netx, torch-free except sequential_modules, which the
# netx runner never imports) plus its metadata are unpacked into the Lava environment (exporters/lava_netx_runner.py)
LAVA_DL_WHEEL = $(LAVA_VENV)/wheels/lava_dl-0.6.0-py3-none-any.whl
$(LAVA_VENV)/.netx-stamp: $(LAVA_VENV)/.stamp
	$(LAVA_VENV)/bin/pip download -q --no-deps lava-dl==0.6.0 -d $(LAVA_VENV)/wheels
	$(LAVA_VENV)/bin/python -c "import sys, sysconfig, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
	  [z.extract(n, sysconfig.get_paths()['purelib']) for n in z.namelist() if n.startswith('lava/lib/dl/netx/') \
	   or n.split('/')[-1] in ('METADATA', 'LICENSE', 'WHEEL') and n.startswith('lava_dl-0.6.0.dist-info/')]" $(LAVA_DL_WHEEL)
	touch $@

lava-venv: $(LAVA_VENV)/.stamp $(LAVA_VENV)/.netx-stamp
sanafe-venv: $(SANAFE_VENV)/.stamp
sinabs3-venv: $(SINABS3_VENV)/.stamp

demo: venv lava-venv
	$(VENV)/bin/snn2hw demo --out $(DEMO_OUT)

test: venv lava-venv sanafe-venv sinabs3-venv
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) $(LAVA_VENV) $(SANAFE_VENV) $(SINABS3_VENV) $(DEMO_OUT)
