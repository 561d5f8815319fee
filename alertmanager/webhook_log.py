"""A minimal Alertmanager webhook receiver: logs every notification as one JSON line.

Standard library only. docker-compose.yml runs it as the `alert-log` service (see the
alerts with `docker compose logs alert-log`); the end-to-end test runs it on a loopback
port with ``--out`` to read what Alertmanager delivered. Replace it with Slack or
PagerDuty in alertmanager.yml (docs/observability.md).

    python alertmanager/webhook_log.py [--host 0.0.0.0] [--port 5001] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, ClassVar


class WebhookHandler(BaseHTTPRequestHandler):
    out: ClassVar[IO[str]] = sys.stdout

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            payload = json.loads(body)
        except ValueError:
            self.send_error(400, "body is not JSON")
            return
        line = json.dumps({"path": self.path, "payload": payload}, sort_keys=True)
        self.out.write(line + "\n")
        self.out.flush()
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:  # a health check
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:  # keep stdout for alerts
        sys.stderr.write("webhook_log: " + format % args + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--out", help="append notifications to this file (default stdout)")
    args = parser.parse_args()
    if args.out:
        WebhookHandler.out = open(args.out, "a", encoding="utf-8")  # noqa: SIM115
    server = ThreadingHTTPServer((args.host, args.port), WebhookHandler)
    print(f"webhook_log: listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
