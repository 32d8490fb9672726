"""When a request is worth another attempt, how long to wait first, and when to give up.

Worth retrying: 429 with ``Retry-After``, 5xx, dropped connections, content a registry
briefly reports as unknown right after a push, a bounded number of times. A request that
gets no answer is tried only twice. Pauses between attempts are jittered, so requests that
failed together do not come back together. What cannot heal is refused before this is
asked (``failures``).
"""

import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Final

import anyio
import httpx

from metrics_api.oci.errors import RegistryError, Remedy
from metrics_api.oci.registry.failures import PROXY_ADVICE, TransportFailures
from metrics_api.oci.registry.responses import registry_errors
from metrics_api.oci.spec.reference import Reference

# Answers worth another attempt: the registry is busy or briefly down.
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
# Codes a registry may answer for content it has not finished storing (anchors.md item 7).
_NOT_YET_CODES: Final = frozenset({"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN"})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request and the exponential backoff between them.

    A request that timed out is tried ``timeout_attempts`` times at most: a registry that
    accepts connections and then says nothing rarely recovers within one job, and five
    full timeouts would keep a CI job waiting for minutes.

    ``random`` draws numbers in [0, 1) for the jitter of ``pause``; a test passes its own
    (``random.Random(seed).random``) to know every pause in advance.
    """

    attempts: int = 5
    timeout_attempts: int = 2
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 30.0
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """The longest wait before attempt ``attempt + 1``; honours ``Retry-After`` seconds."""
        seconds = self._retry_after(retry_after)
        if seconds is not None:
            return seconds
        return min(self.base_delay * 2.0**attempt, self.max_delay)

    def pause(self, attempt: int, retry_after: str | None) -> float:
        """The wait before attempt ``attempt + 1``: ``delay``, its upper half drawn at random.

        Requests that failed together (a job's concurrent requests to a registry that is
        briefly down) would otherwise all come back at the same moment, and again after
        each backoff. "Equal jitter": never less than half the backoff, never more than it,
        so the bounds of ``delay`` hold. A ``Retry-After`` is the registry's own number and
        is kept as it is.
        """
        seconds = self._retry_after(retry_after)
        if seconds is not None:
            return seconds
        backoff = self.delay(attempt, None)
        return backoff / 2 + backoff / 2 * self.random()

    def _retry_after(self, retry_after: str | None) -> float | None:
        """``Retry-After`` in seconds, capped; None without one or for an HTTP date."""
        if retry_after is None:
            return None
        try:
            seconds = float(retry_after)
        except ValueError:
            return None  # an HTTP date: fall back to our own backoff
        return min(max(seconds, 0.0), self.max_retry_after)


@dataclass
class ClientStats:
    """What the client did, for reports and benchmarks."""

    requests: int = 0
    retries: int = 0


class Attempts:
    """The attempts of an operation that restarts itself from its start (a streamed one).

    As many as one request gets, only ``timeout_attempts`` when nothing answers, paced and
    counted the same way; ``cause`` says why the last one failed.
    """

    def __init__(self, retry: RetryPolicy, stats: ClientStats, failures: TransportFailures) -> None:
        """Attempts paced by ``retry``, counted in ``stats``, failures worded by ``failures``."""
        self.retry = retry
        self.stats = stats
        self.failures = failures
        self.cause = ""
        self.made = 0
        self._timeouts = 0

    async def __aiter__(self) -> AsyncIterator[int]:
        """Attempt numbers, with the pause before each new one taken here."""
        retry = self.retry
        for attempt in range(retry.attempts):
            if self._timeouts >= retry.timeout_attempts:
                return
            if attempt:
                self.stats.retries += 1
                await anyio.sleep(retry.pause(attempt - 1, None))
            self.made += 1
            yield attempt

    async def failed(self, error: httpx.TransportError, what: str) -> None:
        """Record a transport failure; raises at once for what cannot heal."""
        self.cause = await self.failures.cause(error, what)
        if isinstance(error, httpx.TimeoutException):
            self._timeouts += 1


def worth_retrying(response: httpx.Response, *, just_pushed: bool) -> bool:
    """A busy or briefly down registry, or (``just_pushed``) content it may still be storing."""
    if response.status_code in RETRY_STATUSES:
        return True
    if just_pushed and response.status_code in (400, 404):
        return any(code in _NOT_YET_CODES for code, _ in registry_errors(response))
    return False


def exhausted(  # noqa: PLR0913 - the state of the attempts, passed as it is
    request: str,
    ref: Reference,
    attempts: int,
    cause: str,
    *,
    https: bool,
    unknown: bool,
    timeouts: int,
) -> RegistryError:
    """The error once every attempt failed; plain HTTP is suggested only when it may help."""
    proxied = cause.startswith("ProxyError")
    over_https = https and not unknown and not timeouts and not proxied
    if unknown:
        advice = (
            f"{ref.host} answered, but kept reporting the content unknown: check that it "
            f"exists in {ref.repository_name}"
        )
    elif proxied:
        advice = PROXY_ADVICE
    elif timeouts == attempts:
        advice = f"check that {ref.host} is up and answering"
    else:
        advice = f"check that {ref.host} is up and reachable" + (
            " over HTTPS" if over_https else ""
        )
    return RegistryError(
        f"{request} still failing after {attempts} attempts, last cause: {cause}; {advice}",
        remedy=Remedy.PLAIN_HTTP if over_https else None,
        host=ref.host,
    )
