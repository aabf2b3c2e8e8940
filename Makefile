# The two commands of README's first screen, and the pieces they are made of.
# Each installs what is missing: Debian packages through apt, then a virtualenv with the project.

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian's servers the local runtime starts; mosquitto-clients gives mosquitto_pub for benchmarks,
# fonts-wqy-microhei the Chinese titles in dashboard snapshots.
APT_PACKAGES := mosquitto mosquitto-clients influxdb fonts-wqy-microhei
# The local Apache Kafka runs from its Maven Central jars: a Java 17 runtime and Maven to fetch
# them (skipped when java and mvn are already on PATH, e.g. a JDK installed another way).
JAVA_PACKAGE := openjdk-17-jre-headless

.PHONY: demo test lint typecheck pytest system-deps venv clean

demo: system-deps venv ## Start the embedded default on this machine (Ctrl-C stops everything)
	$(BIN)/cityiot up

test: system-deps venv lint typecheck pytest ## ruff, mypy and the whole test suite against real servers

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

# The whole suite on Apache Kafka (production's broker), then the collector and streams
# integration tests again on Tansu (the light local option: `--kafka tansu`).
pytest: system-deps venv
	$(BIN)/pytest
	$(BIN)/pytest --kafka tansu tests/integration/collectors tests/integration/streams

system-deps:
	@missing=""; \
	for pkg in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	command -v java >/dev/null 2>&1 || missing="$$missing $(JAVA_PACKAGE)"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .cityiot .mypy_cache .ruff_cache .pytest_cache
