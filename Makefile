# visemic: `make demo` sets up and runs the main job on a built-in example; `make test` tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean web-vendor

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m visemic.demo out

test: $(STAMP) $(BPY_STAMP)
	$(BIN)/ruff check src tests bench
	VISEMIC_BPY_PYTHON=$(CURDIR)/$(BPY_PYTHON) $(BIN)/python -m pytest

# Blender as a Python module (bpy, a 520 MB wheel for Python 3.11) in a venv of its own, for the
# add-on's headless tests (tests/test_blender.py). Where it cannot be installed the tests skip.
BPY_VENV := .venv-bpy
BPY_PYTHON := $(BPY_VENV)/bin/python
BPY_STAMP := $(BPY_VENV)/.installed
$(BPY_STAMP):
	$(PYTHON) -m venv $(BPY_VENV)
	$(BPY_PYTHON) -m pip install --quiet "bpy==4.2.0" \
	  || echo "note: bpy could not be installed: the Blender add-on tests will skip" >&2
	touch $(BPY_STAMP)

bench: $(STAMP)
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/accuracy.py
	$(BIN)/python bench/asr.py

clean:
	rm -rf $(VENV) $(BPY_VENV) out

# The web page's VRM viewer: three.js and three-vrm (MIT), vendored so the page works offline.
# Refresh with `make web-vendor` (needs npm); versions are pinned here and in vendor/README.md.
THREE_VERSION := 0.180.0
THREE_VRM_VERSION := 3.4.2
VENDOR := src/visemic/server/web/vendor
web-vendor:
	rm -rf build/web-vendor && mkdir -p build/web-vendor
	npm install --silent --prefix build/web-vendor three@$(THREE_VERSION) \
	  @pixiv/three-vrm@$(THREE_VRM_VERSION) @pixiv/three-vrm-animation@$(THREE_VRM_VERSION)
	rm -rf $(VENDOR)/three $(VENDOR)/three-vrm
	mkdir -p $(VENDOR)/three/addons/loaders $(VENDOR)/three/addons/utils $(VENDOR)/three-vrm
	cd build/web-vendor/node_modules && \
	  cp three/LICENSE three/build/three.core.min.js three/build/three.module.min.js \
	    ../../../$(VENDOR)/three/ && \
	  cp three/examples/jsm/loaders/GLTFLoader.js ../../../$(VENDOR)/three/addons/loaders/ && \
	  cp three/examples/jsm/utils/BufferGeometryUtils.js ../../../$(VENDOR)/three/addons/utils/ && \
	  cp @pixiv/three-vrm/LICENSE @pixiv/three-vrm/lib/three-vrm.module.min.js \
	    @pixiv/three-vrm-animation/lib/three-vrm-animation.module.min.js \
	    ../../../$(VENDOR)/three-vrm/
