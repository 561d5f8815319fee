"""``python -m stream_app.dashboards [--check]``: write or check grafana/dashboards/*.json."""

from __future__ import annotations

import argparse
import sys

from stream_app.dashboards import OUT_DIR, drift, write


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m stream_app.dashboards")
    parser.add_argument("--check", action="store_true", help="exit 1 if the JSON is stale")
    args = parser.parse_args()
    if args.check:
        stale = drift()
        if stale:
            print(f"dashboards out of date in {OUT_DIR}: " + ", ".join(stale), file=sys.stderr)
            print("regenerate with: python -m stream_app.dashboards", file=sys.stderr)
            return 1
        return 0
    for path in write():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
