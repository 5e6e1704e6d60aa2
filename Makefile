# drconsole: the two commands README promises, and the chores around them.
#   make demo   set everything up, start the local DR lab, open the console on it
#   make test   set everything up, lint, type-check, run every test (what .ci/run calls)
# Both create .venv and install what is missing (Debian packages too, when run as root).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEB_PACKAGES := openssh-server postgresql postgresql-contrib redis-server mariadb-server \
                mariadb-backup pgbackrest etcd-server etcd-client \
                chromium librsvg2-bin python3-venv tmux strace
STAMP := $(VENV)/.installed

.PHONY: demo test setup debs venv patroni lint typecheck pytest screenshots bench lab-up lab-down clean

demo: setup
	$(BIN)/drconsole lab up
	$(BIN)/drconsole tui -i inventory/lab.yaml

test: setup lint typecheck pytest

setup: debs venv patroni

# Patroni for the `managed` lab profile, from PyPI (Debian's 3.0.2 loses data; see README),
# in a virtualenv of the system Python that the unprivileged lab user can run (drconsole's
# own .venv may live under a directory that user cannot read).
PATRONI_VENV ?= $(if $(filter 0,$(shell id -u)),/opt/drconsole-patroni,$(HOME)/.local/share/drconsole-patroni)
PATRONI_SPEC := patroni[etcd3,psycopg3]==4.1.5
patroni: $(PATRONI_VENV)/.installed

$(PATRONI_VENV)/.installed:
	@[ -x $(PATRONI_VENV)/bin/python ] || /usr/bin/python3 -m venv $(PATRONI_VENV)
	$(PATRONI_VENV)/bin/python -m pip install -q '$(PATRONI_SPEC)'
	@touch $@

# Server packages are needed by the lab and the tests; install them when root, else explain.
debs:
	@missing=""; \
	for f in /usr/lib/postgresql/15/bin/initdb /usr/sbin/mariadbd /usr/bin/redis-server \
	         /usr/sbin/sshd /usr/bin/pgbackrest /usr/bin/mariadb-backup /usr/bin/chromium \
	         /usr/bin/rsvg-convert /usr/bin/tmux /usr/bin/strace /usr/bin/etcd /usr/bin/etcdctl; do \
	  [ -x "$$f" ] || missing="$$missing $$f"; done; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages (missing:$$missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $(DEB_PACKAGES) >/dev/null || exit 1; \
	  else \
	    echo "missing:$$missing"; \
	    echo "install as root: apt-get install $(DEB_PACKAGES)"; exit 2; \
	  fi; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip >/dev/null
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

lint: venv
	$(BIN)/ruff check console tests benchmarks
	$(BIN)/ruff format --check console tests benchmarks

typecheck: venv
	$(BIN)/mypy

# pytest exits 5 when it collects no test: make fails on any non-zero status, so an empty
# run can never pass. Two workers, a test file per worker (each file brings its lab up once):
# the suite's servers keep both cores busy and the wall time about halves.
pytest: venv
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile --durations=15

screenshots: venv
	$(BIN)/python -m console.tui.screenshots screenshots
	$(BIN)/python -m console.tui.screenshots_topologies screenshots

bench: venv
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lab-up: setup
	$(BIN)/drconsole lab up

lab-down: venv
	$(BIN)/drconsole lab down

clean:
	-$(BIN)/drconsole lab down 2>/dev/null
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
