# The model's prediction API: ONNX Runtime behind FastAPI/uvicorn, nothing else.
#
#   bash scripts/image.sh banknote-api:local      (or: make image)
#
# BASE_IMAGE is the only thing that differs between builds: python:3.11-slim in production, a
# locally built Debian stand-in where Docker Hub cannot be reached (scripts/ensure-base-image.sh).
# Nothing below depends on which: the venv's python links to the base's own python3, and both
# stages use the same base, so that link resolves in the runtime stage too.
# Needs the trained artifact in artifacts/model/ (`make artifact`).
ARG BASE_IMAGE=python:3.11-slim

# ---- build: a venv with the serving lock only, the app, its artifact contract and the model --
FROM ${BASE_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_NO_INPUT=1

COPY requirements/serve.txt /tmp/serve.txt
# The lock carries hashes for every package, so pip refuses anything else; wheels only, so no
# compiler is ever needed. Then the venv loses what serving never imports (about 30 MB): pip and
# setuptools (nothing installs at runtime), the libraries' own test suites, numpy's Fortran and
# build tooling, and onnxruntime's model-conversion, quantization and transformer tools.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/python -m pip install --no-cache-dir --require-hashes --only-binary=:all: \
        -r /tmp/serve.txt \
    && /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools \
    && rm -rf /tmp/serve.txt \
    && find /opt/venv -depth -type d -name tests -prune -exec rm -rf {} + \
    && for unused in numpy/f2py numpy/distutils numpy/_pyinstaller \
            onnxruntime/tools onnxruntime/quantization onnxruntime/transformers; do \
        rm -rf /opt/venv/lib/python3*/site-packages/"$unused"; \
    done

COPY contract/ /app/contract/
COPY api/ /app/api/
# model.joblib is deliberately not copied: serving runs model.onnx and never loads a pickle.
COPY artifacts/model/model.onnx artifacts/model/metadata.json artifacts/model/MODEL_CARD.md \
     /app/artifacts/model/
# The root filesystem is read-only at runtime, so bytecode is compiled now; hash-checked .pyc
# files stay valid whatever mtimes the layers end up with. go-w: only root may change the app.
RUN /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash /app/contract /app/api \
    && chmod -R go-w /app /opt/venv

# ---- runtime ----------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime

ARG BASE_IMAGE
ARG REVISION=unknown
ARG MODEL_VERSION=unknown
ARG MODEL_NAME=unknown
ARG SOURCE_URL=unknown

# The model's name and version: the artifact's (its spec's name). infra/pinned_image.py reads
# the version back from the registry to deploy an image by digest.
LABEL org.opencontainers.image.title="banknote-api" \
      org.opencontainers.image.description="The ${MODEL_NAME} classifier (ONNX Runtime) behind FastAPI" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}" \
      mlops.model.name="${MODEL_NAME}" \
      mlops.model.version="${MODEL_VERSION}"

# A fixed UID/GID so volume permissions and policies (runAsUser) can name it.
RUN groupadd --system --gid 10001 app \
    && useradd --system --no-log-init --uid 10001 --gid app \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

# Containers see the host's CPU count, not their quota: workers and every thread pool are set
# explicitly (one worker, one intra-op thread suits 1-2 vCPU; raise WORKERS with the CPUs).
# ONNX Runtime's usage telemetry is off: a service should not phone home, and here it cannot.
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    MODEL_DIR=/app/artifacts/model \
    WORKERS=1 \
    LOG_LEVEL=info \
    ORT_INTRA_OP_THREADS=1 \
    OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    ORT_DISABLE_TELEMETRY=1

WORKDIR /app
USER 10001:10001
EXPOSE 8000

# Python rather than curl (no curl in the image); PORT is read at check time, so -e PORT works.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health', timeout=2)"]

# Exec form: uvicorn is PID 1 and receives docker stop's SIGTERM itself (graceful shutdown).
CMD ["/opt/venv/bin/python", "-m", "api"]
