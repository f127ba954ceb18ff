# tintcam developer commands. `make start` and `make test` are the README's two set-up commands.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
API_PORT ?= 8000
SITE_PORT ?= 8080
export PIP_DISABLE_PIP_VERSION_CHECK=1

define WAIT_FOR_API
import sys, time, urllib.request
for _ in range(600):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=5); sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("the API did not start")
endef
export WAIT_FOR_API

# The development key `make start` keeps in frontend/config.json, printed for curl and other clients (only
# this key: nothing else secret is printed).
define PRINT_KEY
import json, sys
print(f"API key (send it as the x-api-key header; kept in {sys.argv[1]}): {json.load(open(sys.argv[1]))['apiKey']}")
endef
export PRINT_KEY


STAGE ?= prod

.PHONY: install models start test bench layers deploy clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

# The model files that load fast (dlib's landmark model as arrays, the saved detector): made once, about
# 20 s, next to the installed model; and MediaPipe's BlazeFace models (and the face mesh models that
# bench/realism.py --mesh compares), extracted from the mediapipe wheel (sha256 checked). A no-op when
# they are current.
models: install
	@$(PY) -m chalicelib.faces >/dev/null
	@$(PY) layers/models.py >/dev/null

# Start the API (chalice local) and the camera page together; prints the page's URL. Ctrl-C stops both.
start: models
	@$(PY) -m chalicelib.admin dev-key --config frontend/config.json --api-url http://localhost:$(API_PORT)
	@trap 'kill 0' INT TERM EXIT; \
	TINTCAM_SITE_ORIGINS=http://localhost:$(SITE_PORT),http://127.0.0.1:$(SITE_PORT) \
	$(PY) .chalice/local_server.py local --host 127.0.0.1 --port $(API_PORT) --no-autoreload & \
	$(PY) -m http.server $(SITE_PORT) --bind 127.0.0.1 --directory frontend >/dev/null 2>&1 & \
	$(PY) -c "$$WAIT_FOR_API" http://127.0.0.1:$(API_PORT)/health && \
	$(PY) -c "$$PRINT_KEY" frontend/config.json && \
	echo "tintcam is running: open http://localhost:$(SITE_PORT)/  (API at http://localhost:$(API_PORT))"; \
	wait

test: models
	$(PY) -m pytest

bench: models
	$(PY) bench/frame_api.py
	$(PY) bench/tracking.py
	$(PY) bench/detectors.py
	$(PY) bench/lambda_cold_start.py
	$(PY) bench/realism.py
	$(PY) bench/patch.py

# Build the Lambda function and layer zips into layers/build/$(STAGE)/.
layers: install
	$(PY) layers/build.py --stage $(STAGE)

# Deploy everything to AWS (needs AWS credentials and AWS_DEFAULT_REGION); see docs/deploy.md.
deploy: install
	$(PY) layers/deploy.py --stage $(STAGE)

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
