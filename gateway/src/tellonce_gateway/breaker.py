"""What keeps one hung or failing service from taking the gateway and the other services down
with it (Envoy's circuit breaking and outlier detection, small): a cap on the requests
waiting on each service, and a breaker per service that stops calling it for a while after a
run of failures.

Why: a connection is opened for every request a busy pool cannot serve, so a service that
hangs would gather a socket and a waiting request for every call to it until each times out
(15-60 s); under traffic that is thousands of both, and the event loop the other services'
requests share slows down with them. A service that keeps failing is refused at once instead
of being tried again for every request.

What counts as in flight is a request the gateway is waiting on the service for: counted
when it is admitted (so a burst is admitted up to the cap and no further), given back while
the gateway waits on the client instead (a streamed upload being read, with the native
forwarder), and given back for good, its outcome told, when the answer's head is in or the
exchange failed before it. Passing the answer on to the client is not counted: a client that
stalls or reads slowly holds a socket, not a place under a service's cap (docs/gateway.md).

The cost on the request's path is what the gateway adds inline (``Gateway._serve``,
``Gateway.fast_path``, the forwarders at the answer's head): one comparison,
``in_flight >= limit``, an attribute read (the request's ``generation``), an increment and a
decrement. ``limit`` is the cap while the breaker is closed and 0 while it is open or
half-open, so that one comparison sends every request to :meth:`Breaker.admit` then, and
only then. Outcomes reach the breaker only when they could change it: a failure, a success
after failures (``failures`` is not 0), a request that ended neither way. No locks: the
gateway's event loop is one thread."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Final

from tellonce_gateway.metrics import BREAKER_STATE, UPSTREAM_IN_FLIGHT, UPSTREAM_REFUSALS
from tellonce_shared.problems import ServiceUnavailable

log = logging.getLogger("tellonce.gateway.breaker")

CLOSED: Final = 0
"""Requests go through (up to the cap); failures are counted."""
OPEN: Final = 1
"""Requests are refused at once until the cool-off is over."""
HALF_OPEN: Final = 2
"""The cool-off is over: one request (the trial) goes through and decides."""
STATE_NAMES: Final = ("closed", "open", "half-open")

BUSY_RETRY_AFTER = 1
"""Seconds a request refused by the cap (or while the trial is out) is told to wait."""


class Breaker:
    """The requests in flight to one service and the breaker in front of it.

    Closed: ``failures_to_open`` consecutive failures (the service down: refused or not
    accepting a connection; or silent for the route's timeout, a 504) open it. Open: every
    request is refused (503, ``Retry-After`` the seconds left) for ``open_seconds``. Then
    half-open: the next request is the trial; its success closes the breaker, its failure
    opens it for another ``open_seconds``, and while it is out the others are refused. A
    trial that has not settled ``open_seconds`` after it was let through (its client still
    uploading, or a slow service) no longer holds the place: the next request is another
    trial. A success in the closed state starts the count of failures again.

    Each request is tagged at admission with :attr:`generation`; outcomes tagged before the
    breaker last opened (:attr:`opened`) are ignored whatever the state: they say nothing
    newer than what opened it, and must not re-open a service that a trial found well."""

    def __init__(
        self,
        upstream: str,
        *,
        max_in_flight: int,
        failures_to_open: int,
        open_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_in_flight < 1 or failures_to_open < 1 or open_seconds <= 0:
            raise ValueError("a breaker needs a cap, a failure count and a cool-off above 0")
        self.upstream = upstream
        self.max_in_flight = max_in_flight
        self.failures_to_open = failures_to_open
        self.open_seconds = open_seconds
        self.clock = clock
        self.in_flight = 0
        """Requests the gateway is waiting on the service for (module docstring)."""
        self.limit = max_in_flight
        """What ``in_flight`` is compared with on the request's path: the cap while closed,
        0 otherwise (every request then asks :meth:`admit`)."""
        self.failures = 0
        """Consecutive failures (kept while open and half-open, so never 0 then)."""
        self.state = CLOSED
        self.open_until = 0.0
        self.generation = 0
        """The tag a request admitted now gets: bumped every time the breaker opens and for
        every trial (so the latest trial is the one request tagged with it)."""
        self.opened = 0
        """The generation the breaker last opened at: outcomes tagged before it are stale."""
        self.trial_out = False
        """Half-open: a trial has been let through and has not settled yet."""
        self.trial_until = 0.0
        """Half-open: when the trial out stops holding its place (:attr:`open_seconds` after
        it was let through)."""
        self._refused = {
            reason: UPSTREAM_REFUSALS.labels(upstream, reason)
            for reason in ("in-flight", "breaker")
        }
        self._state_gauge = BREAKER_STATE.labels(upstream)
        self._state_gauge.set(CLOSED)
        UPSTREAM_IN_FLIGHT.labels(upstream).set_function(lambda: self.in_flight)

    # -- before forwarding: called when in_flight >= limit ------------------------------------

    def admit(self) -> int:
        """The generation to tag the request about to be forwarded with (a trial's own when
        it is the half-open breaker's trial); raises the 503 to answer instead when it may
        not go."""
        state = self.state
        if state == CLOSED:
            if self.in_flight < self.max_in_flight:
                return self.generation
            raise self._refuse(
                "in-flight",
                BUSY_RETRY_AFTER,
                f"The {self.upstream} service has too many requests in progress; "
                "try again shortly.",
            )
        now = self.clock()
        if state == OPEN and now >= self.open_until:
            self._move(HALF_OPEN)
        if self.state == HALF_OPEN and (not self.trial_out or now >= self.trial_until):
            if self.trial_out:
                log.info(
                    "breaker trial unsettled after %s s: another one",
                    self.open_seconds,
                    extra={"upstream": self.upstream},
                )
            self.trial_out = True
            self.trial_until = now + self.open_seconds
            self.generation += 1
            return self.generation
        if self.state == OPEN:
            wait = max(BUSY_RETRY_AFTER, math.ceil(self.open_until - now))
            detail = f"the gateway is not calling it for {wait} s; try again then."
        else:
            wait, detail = BUSY_RETRY_AFTER, "one request is trying it again; retry shortly."
        raise self._refuse("breaker", wait, f"The {self.upstream} service is failing; {detail}")

    def _refuse(self, reason: str, wait: int, detail: str) -> ServiceUnavailable:
        self._refused[reason].inc()
        return ServiceUnavailable(detail, headers={"Retry-After": str(wait)})

    # -- the outcome: when the answer's head is in or the exchange failed before it -----------

    def succeeded(self, generation: int) -> None:
        """The service answered (whatever its status). Only called when ``failures`` is not
        0: with none, there is nothing to reset. Half-open, any trial of this opening (the
        one out, or one whose place has run out) answering closes the breaker."""
        if generation < self.opened:
            return  # stale
        if self.state == CLOSED:
            self.failures = 0
        elif self.state == HALF_OPEN:
            self.failures = 0
            self.trial_out = False
            self._move(CLOSED)

    def failed(self, generation: int) -> None:
        """The service was down or silent past the route's timeout."""
        if generation < self.opened:
            return  # stale
        if self.state == CLOSED:
            self.failures += 1
            if self.failures >= self.failures_to_open:
                self._open()
        elif self.state == HALF_OPEN:
            self.trial_out = False
            self._open()

    def ended_early(self, generation: int, failure: bool) -> None:
        """The request's exchange ended before the answer's head: its place is given back
        and the breaker told, a ``failure`` (the service down, or silent past the route's
        timeout) or neither (the client left, the body was refused, a garbled answer)."""
        self.in_flight -= 1
        if failure:
            self.failed(generation)
        else:
            self.dropped(generation)

    def dropped(self, generation: int) -> None:
        """The request ended neither way (the client left, the body was refused, the
        answer was garbled): the breaker learns nothing, but the trial out, if it was that
        one, frees its place for the next request."""
        if generation == self.generation and self.state == HALF_OPEN:
            self.trial_out = False

    # -- transitions --------------------------------------------------------------------------

    def _open(self) -> None:
        self.open_until = self.clock() + self.open_seconds
        self.generation += 1
        self.opened = self.generation
        self._move(OPEN)

    def _move(self, state: int) -> None:
        self.state = state
        self.limit = self.max_in_flight if state == CLOSED else 0
        self._state_gauge.set(state)
        if state == OPEN:
            log.warning(
                "breaker open: not calling the service",
                extra={
                    "upstream": self.upstream,
                    "failures": self.failures,
                    "seconds": self.open_seconds,
                },
            )
        else:
            log.info("breaker %s", STATE_NAMES[state], extra={"upstream": self.upstream})
