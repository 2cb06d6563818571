"""Per-client rate limits with the generic cell rate algorithm (GCRA): one float per client,
a steady rate plus a burst, and an exact Retry-After. Kept in the gateway's memory, so with
N replicas a client gets up to N times the limit (see docs/gateway.md)."""

from __future__ import annotations

import math
import time


class RateLimiter:
    def __init__(self, rate_per_second: float, burst: int, max_clients: int = 100_000) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.interval = 1.0 / rate_per_second
        self.tolerance = self.interval * burst
        self.max_clients = max_clients
        self._tat: dict[str, float] = {}
        """Theoretical arrival time of each client's next request."""

    def retry_after(self, key: str, now: float | None = None) -> int | None:
        """Record one request; ``None`` if allowed, else the whole seconds to wait."""
        if now is None:
            now = time.monotonic()
        tat = self._tat.get(key, now)
        if tat < now:
            tat = now
        allow_at = tat + self.interval - self.tolerance
        if now < allow_at:
            return max(1, math.ceil(allow_at - now))
        self._tat[key] = tat + self.interval
        if len(self._tat) > self.max_clients:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        """Drop clients whose bucket is full again; they are the same as new ones."""
        self._tat = {k: v for k, v in self._tat.items() if v > now}
        if len(self._tat) > self.max_clients:  # a flood of distinct keys: start afresh
            self._tat.clear()

    def __len__(self) -> int:
        return len(self._tat)
