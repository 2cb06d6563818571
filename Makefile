# Tell-Once Forms Hub. Two commands matter: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
# The Procfile's processes call `uv` by name: the one bootstrapped into .tools/ on a machine
# without its own.
export PATH := $(dir $(UV)):$(PATH)
RUN := $(UV) run --frozen --no-sync
PACKAGES := -p tellonce_shared -p tellonce_identity -p tellonce_registry -p tellonce_submissions -p tellonce_portal -p tellonce_gateway
SERVICES := identity registry submissions portal

.PHONY: help bootstrap run migrate seed test test-fast lint fmt typecheck typecheck-tests bench rotate-keys images clean deploy-check

help:
	@echo "make run    - set up .venv, migrate, seed the demo catalog and start every process"
	@echo "make test   - set up .venv, lint, type-check and run the whole test suite"
	@echo "make lint | fmt | typecheck | typecheck-tests | bench | rotate-keys | images | clean"

$(UV):
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml $(wildcard */pyproject.toml services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	@touch $@

bootstrap: .venv/.synced

# Each service has its own database, so the services are set up side by side (one after
# the other, most of the time went in starting Python eight times); any failure fails it.
EACH_SERVICE = pids=""; for s in $(SERVICES); do ( $(1) ) & pids="$$pids $$!"; done; \
	failed=0; for p in $$pids; do wait $$p || failed=1; done; exit $$failed

migrate: bootstrap
	@$(call EACH_SERVICE,$(RUN) tellonce-$$s migrate)

seed: bootstrap
	@$(call EACH_SERVICE,$(RUN) tellonce-$$s migrate && $(RUN) tellonce-$$s seed)

run: seed
	@echo ""
	@echo "  Tell-Once Forms Hub: open http://127.0.0.1:8000/"
	@echo "  (demo accounts in README.md; Ctrl-C stops every process)"
	@echo ""
	$(RUN) honcho start -f Procfile

lint: bootstrap
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

fmt: bootstrap
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

typecheck: bootstrap
	$(RUN) mypy $(PACKAGES)

# The tests and the benchmarks, as strictly typed as the code. Folders whose modules mypy
# names from the folder itself (tests/, through mypy_path, and forms-registry's test
# folders, under a path no module name can hold) each have a top-level `conftest`: they are
# checked one at a time.
TEST_DIRS := gateway/tests shared/tests services/identity/tests services/submissions/tests \
	services/portal/tests bench
TEST_DIRS_APART := tests $(sort $(dir $(wildcard services/forms-registry/tests/*/conftest.py)))

typecheck-tests: bootstrap
	$(RUN) mypy $(TEST_DIRS)
	@for d in $(TEST_DIRS_APART); do echo "$(RUN) mypy $$d"; $(RUN) mypy $$d || exit 1; done

test: lint typecheck typecheck-tests deploy-check
	$(RUN) pytest -q shared services gateway tests

deploy-check: bootstrap
	MYPYPATH=deploy/tests $(RUN) mypy deploy/make_secrets.py deploy/settings_table.py deploy/tests
	TELLONCE_DEPLOY_STRICT=1 $(RUN) pytest -q deploy/tests

test-fast: bootstrap
	$(RUN) pytest -q -x shared services gateway

bench: bootstrap
	$(RUN) python -m bench.run

rotate-keys: bootstrap
	$(RUN) tellonce-identity rotate-keys

# One Dockerfile (deploy/Dockerfile) for every image. Arguments: the service's folder, its uv
# package (also its command), settings prefix, port, and whether it needs the PDF libraries.
image_args = --build-arg SERVICE_DIR=$(1) --build-arg PACKAGE=$(2) --build-arg COMMAND=$(2) \
	--build-arg ENV_PREFIX=$(3) --build-arg PORT=$(4) --build-arg PDF=$(5)

images:
	docker build -f deploy/Dockerfile -t tellonce/identity:latest $(call image_args,services/identity,tellonce-identity,IDENTITY,8001,false) .
	docker build -f deploy/Dockerfile -t tellonce/forms-registry:latest $(call image_args,services/forms-registry,tellonce-registry,REGISTRY,8002,true) .
	docker build -f deploy/Dockerfile -t tellonce/submissions:latest $(call image_args,services/submissions,tellonce-submissions,SUBMISSIONS,8003,true) .
	docker build -f deploy/Dockerfile -t tellonce/portal:latest $(call image_args,services/portal,tellonce-portal,PORTAL,8004,false) .
	docker build -f deploy/Dockerfile -t tellonce/gateway:latest $(call image_args,gateway,tellonce-gateway,GATEWAY,8000,false) .

clean:
	rm -rf .venv .tools var
