# Two commands on a fresh machine: `make run` (web chat) and `make test` (the test suite).
# uv is installed with pip when missing; dependencies come from uv.lock, exactly.
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: setup run test ask ingest eval bench clean

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

run: setup
	$(UV) run --frozen python app.py

test: setup
	bash scripts/ensure-chromium.sh
	$(UV) run --frozen pytest

ingest: setup
	$(UV) run --frozen python app.py ingest

eval: setup
	$(UV) run --frozen python app.py eval --set evals/bundled.jsonl

clean:
	rm -rf index indexes logs test-artifacts eval-runs .pytest_cache
