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

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/speed.py
	$(BIN)/python bench/accuracy.py

clean:
	rm -rf $(VENV) out

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
