# redis-k8s: build the charm, run it on the local model, test and measure it.
VENV := .venv
PY := $(VENV)/bin/python
export LOCALMODEL_HOME ?= $(CURDIR)/.localmodel
LOCALMODEL := $(PY) -m localmodel

.PHONY: setup build test demo up status down bench chaos clean

setup:
	bash scripts/setup.sh

build: setup
	bash scripts/build.sh

test: setup
	bash scripts/test.sh

demo: setup
	bash scripts/demo.sh

up: setup
	$(LOCALMODEL) up

status:
	@$(LOCALMODEL) status --format json

down:
	$(LOCALMODEL) down

bench: setup
	$(PY) -m bench

chaos: setup
	$(PY) -m pytest -q -p no:cacheprovider tests/chaos

clean:
	rm -rf build deps
