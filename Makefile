# discourse-async: every task a maintainer or CI runs. `make install` makes .venv; the rest use it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SPEC ?=
BASE ?=
URL ?=

.PHONY: install demo demo-cli fake bench soak test spec spec-preview generate check-generated lint typecheck docs ci clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

## the tour: a forum conversation through the client, against a fake Discourse on 127.0.0.1 (or DISCOURSE_URL/_API_KEY/_API_USERNAME)
demo: install
	$(BIN)/python examples/tour.py

## the command line against a fake Discourse on 127.0.0.1:4201: a table of topics, a reply, an iterator, a 404
demo-cli: install
	@$(BIN)/python -m discourse_async.testing --port 4201 --seed-topics 40 > .demo-cli.log 2>&1 & pid=$$!; \
	trap 'kill $$pid; rm -f .demo-cli.log' EXIT; \
	until grep -q '^Admin API key' .demo-cli.log; do kill -0 $$pid || exit 1; sleep 0.1; done; \
	export DISCOURSE_URL=http://127.0.0.1:4201 DISCOURSE_API_USERNAME=system \
		DISCOURSE_API_KEY=$$(sed -n 's/^Admin API key: \([^ ]*\).*/\1/p' .demo-cli.log); \
	set -x; \
	$(BIN)/python -m discourse_async.cli topics list-latest-topics --format table --columns id,title,posts_count; \
	$(BIN)/python -m discourse_async.cli posts create-post --topic-id 40 --raw "A reply from the command line." --format table --columns id,topic_id,post_number; \
	$(BIN)/python -m discourse_async.cli topics iter-latest --max-items 35 | wc -l; \
	$(BIN)/python -m discourse_async.cli topics get-topic 999 || echo "exit code $$?"

## a fake Discourse (with S3 and 50 topics) on 127.0.0.1:4200 until Ctrl-C
fake: install
	$(BIN)/python -m discourse_async.testing --port 4200 --s3 --seed-topics 50

## the whole test suite (offline)
test: install
	$(BIN)/python -m pytest

## benchmarks against peers, measured in one run: writes bench/results.md and bench/results.png (never part of test)
bench: install
	$(BIN)/pip install -q pydiscourse matplotlib uvloop
	$(BIN)/python bench/run.py

## 10,000 requests at 200 in flight: against the fake with 5% injected faults, then against a server closing connections after 1-5 answers, then through a real nginx set up as discourse_docker's (never part of test)
soak: install
	$(BIN)/python bench/soak.py
	$(BIN)/python bench/soak.py --closing
	$(BIN)/python bench/nginx.py

## openapi.yaml from the pinned upstream document; SPEC=<file or URL> adopts another (URL=<where that file came from>)
spec: install
	$(BIN)/python -m codegen.build_spec $(SPEC) $(if $(URL),--url $(URL))

## what SPEC=<file or URL> would change for users (vs the pin, or BASE=); fails only when it breaks callers or cannot be read
spec-preview: install
	$(if $(SPEC),,$(error usage: make spec-preview SPEC=<file or URL> [BASE=<file or URL>]))
	@# make turns every failing status into 2: compatible changes (1) pass, breaking (2) and unreadable (3) fail.
	@$(BIN)/python -m codegen.preview $(SPEC) $(if $(BASE),--base $(BASE)); status=$$?; \
	[ $$status -le 1 ] || { echo "spec-preview: exit status $$status (2 breaking, 3 unreadable)" >&2; exit $$status; }

## discourse_async/_generated from openapi.yaml
generate: install
	$(BIN)/python -m codegen.generate

## fail if openapi.yaml or _generated differ from a fresh build
check-generated: install
	$(BIN)/python -m codegen.check

## the documentation site into build/site (warnings are errors): docs/cli.md's reference from the command tree, then MkDocs
docs: install
	$(BIN)/python -m discourse_async.cli._reference
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

ci: test check-generated lint typecheck

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
