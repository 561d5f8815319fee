"""``stream-app collect``: events in over HTTP (any type on ``/v1/events``, the browser
tracker's web events on ``/v1/web``), validated by the contract and produced to Kafka."""
