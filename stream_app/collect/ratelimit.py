"""A token bucket per client (``/v1/web``): ``rate`` events per second, bursts up to
``burst``. Plain Python with an injectable clock; the table of clients is bounded (the
least recently seen client is forgotten first, which only ever refills its bucket)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    def __init__(
        self,
        rate: float,
        burst: int,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self.clock = clock
        #: client -> (tokens, time of the last update)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str, n: int) -> float:
        """Take ``n`` tokens for ``client``: 0.0 when granted, else the seconds to wait
        until they would be (nothing is taken then)."""
        now = self.clock()
        tokens, last = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        wait = 0.0
        if n > tokens:
            wait = math.inf if n > self.burst else (n - tokens) / self.rate
        else:
            tokens -= n
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait
