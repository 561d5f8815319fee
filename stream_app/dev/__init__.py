"""Dev-only infrastructure: the local KRaft broker, the embedded ``run`` pipeline and its
live view. Tests, benchmarks and ``stream-app run`` use it; the worker never does."""
