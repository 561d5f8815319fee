FROM python:3.11-slim
WORKDIR /app
# the worker's allocator (README.md, "Memory: jemalloc")
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY stream_app ./stream_app
RUN pip install --no-cache-dir .
EXPOSE 6066 6080
CMD ["stream-app", "worker"]
