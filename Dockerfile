# Production image: `incident-bot serve` by default; run `incident-bot worker` from the same
# image for separate worker processes (set REDIS_URL and WORKERS=external). The console is
# reachable from outside the container, so the bot refuses to start without CONSOLE_TOKEN.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY runbooks ./runbooks
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    LOG_FORMAT=json \
    HOST=0.0.0.0 \
    DATA_DIR=/var/lib/incident-bot
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /var/lib/incident-bot && chown bot /var/lib/incident-bot
# The playbook catalogue ships inside the package; add your own with RUNBOOKS_DIRS.
COPY --from=build /install /usr/local
WORKDIR /app
USER bot
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["incident-bot", "serve"]
