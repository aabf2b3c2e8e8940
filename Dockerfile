# syntax=docker/dockerfile:1
# cityiot: one image for every command (`collect`, `stream`, `simulate`, `dashboards`, ...).
#   docker build -t cityiot:dev .
#   docker run --rm cityiot:dev collect --help
# Settings come from CITYIOT_* environment variables (core/settings/); secrets from an env
# file or an orchestrator's secret, never from this file. See docs/deploy.md.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtualenv with cityiot and its dependencies, compilers only here -----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# For any dependency without a wheel for this platform (most ship manylinux wheels).
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/cityiot
WORKDIR /src
# Dependencies first: this layer is reused until pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir -p cityiot && touch cityiot/__init__.py \
    && /opt/cityiot/bin/pip install . \
    && /opt/cityiot/bin/pip uninstall -y cityiot
COPY core ./core
COPY cityiot ./cityiot
COPY schemas ./schemas
COPY adapters ./adapters
COPY collectors ./collectors
COPY streams ./streams
COPY dashboards ./dashboards
COPY simulator ./simulator
COPY gateways ./gateways
RUN /opt/cityiot/bin/pip install --no-deps . \
    && /opt/cityiot/bin/python -m compileall -q /opt/cityiot/lib

# --- runtime: the virtualenv, a non-root user, nothing else -------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG CITYIOT_UID=10001
RUN groupadd --system --gid ${CITYIOT_UID} cityiot \
    && useradd --system --uid ${CITYIOT_UID} --gid cityiot --no-create-home \
       --home-dir /var/lib/cityiot --shell /usr/sbin/nologin cityiot \
    && mkdir -p /var/lib/cityiot \
    && chown cityiot:cityiot /var/lib/cityiot
COPY --from=build /opt/cityiot /opt/cityiot
ENV PATH=/opt/cityiot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The working directory holds Faust's table state (`<app id>-data/`): a volume in Compose, a
# PersistentVolumeClaim in Kubernetes (deploy/k8s/streams.yaml).
WORKDIR /var/lib/cityiot
USER ${CITYIOT_UID}:${CITYIOT_UID}
# One port per long-running process for Prometheus /metrics, /healthz and /readyz:
# 9464 a collector's (CITYIOT_COLLECTOR_METRICS_PORT), 9465 a streams worker's
# (CITYIOT_STREAM_METRICS_PORT), as deploy/ sets them.
EXPOSE 9464 9465
# Liveness: GET /healthz on the process's own port, read from the same CITYIOT_* variables
# (core/probes/check.py). No port set (simulate, dashboards): healthy, nothing to probe.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "core.probes"]
ENTRYPOINT ["cityiot"]
CMD ["--help"]
