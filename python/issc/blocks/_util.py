"""Small helpers shared by the blocks (logging that cannot flood, sanitising samples)."""
from __future__ import annotations

import time

import numpy as np


class RateLimitedLog:
    """Log a repeated problem at most once per ``interval_s`` seconds, with a count of suppressed ones,
    so a stream of bad samples cannot flood the log."""

    def __init__(self, logger, interval_s: float = 2.0):
        self.logger = logger
        self.interval_s = interval_s
        self._last = {}
        self._suppressed = {}

    def warn(self, key: str, message: str):
        now = time.monotonic()
        if now - self._last.get(key, -np.inf) >= self.interval_s:
            extra = self._suppressed.pop(key, 0)
            self.logger.warn(message + (f" ({extra} similar messages suppressed)" if extra else ""))
            self._last[key] = now
        else:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1


def zero_non_finite(samples: np.ndarray) -> int:
    """Replace NaN/inf samples by 0 in place; return how many there were."""
    bad = ~np.isfinite(samples)
    count = int(np.count_nonzero(bad))
    if count:
        samples[bad] = 0
    return count
