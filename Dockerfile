# One image for every hatchnb process; the command picks the role:
#   worker (default) | engine | dashboard --address 0.0.0.0 | migrate | prune
# (`hatchnb server`, the HTTP API, is another command of the same image once it ships.)
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
# 8001: a worker's /health and /metrics; 8765: the dashboard
EXPOSE 8001 8765
# a worker answers /health on its event loop: 503 while its database link is down
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('HATCHNB_WORKER_HEALTHCHECK_PORT', '8001'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=2).status == 200 else 1)"]
# SIGTERM: the worker stops claiming, waits HATCHNB_SHUTDOWN_GRACE (20 s) for running tasks,
# then hands the rest back to the queue
STOPSIGNAL SIGTERM
ENTRYPOINT ["hatchnb"]
CMD ["worker"]
