# One image for every hatchnb process; the command picks the role:
#   worker (default) | engine | server --address 0.0.0.0 (HTTP API + dashboard) |
#   api | dashboard --address 0.0.0.0 | migrate | prune
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hatchnb ./hatchnb
# the project itself, its dependencies pinned by pyproject.toml ranges
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --prefix=/install ".[otel]"

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HATCHNB_WORKER_HEALTHCHECK_PORT=8001
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 --user-group hatchnb
USER 10001:10001
WORKDIR /home/hatchnb
# 8001: a worker's /health and /metrics; 8080: the HTTP API; 8765: the dashboard
EXPOSE 8001 8080 8765
# a worker answers /health on its event loop: 503 while its database link is down
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('HATCHNB_WORKER_HEALTHCHECK_PORT', '8001'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=2).status == 200 else 1)"]
# SIGTERM: the worker stops claiming and lets running tasks finish (for HATCHNB_SHUTDOWN_GRACE
# seconds when set), then hands the rest back to the queue
STOPSIGNAL SIGTERM
ENTRYPOINT ["hatchnb"]
CMD ["worker"]
