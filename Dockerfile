FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY stream_app ./stream_app
RUN pip install --no-cache-dir .
EXPOSE 6066 6080
CMD ["stream-app", "worker"]
