"""HTTP with retries, as Stripe's SDK does them, on httpx and tenacity.

`HttpClient.send` classifies every outcome into `usage_billing.errors`: connection errors and
timeouts, 409, 429 and 5xx are retriable, other 4xx are fatal and carry the vendor's message.
`Stripe-Should-Retry` overrides the status (true: retry, false: do not). `retrying()` is the
one retry policy: exponential backoff with full jitter, capped, honouring `Retry-After`.

A request is only retried by `send(..., retry=True)` when resending it is safe: it is a read,
or it carries an idempotency key the server honours. Calls without such a key (Sequence's
creates) are retried one level up, in `usage_billing.push.targets.sequence`: a failed request
may still be done by the server after any later one, so a look-up alone cannot tell that it did
not land.
"""

from __future__ import annotations

import email.utils
import functools
import json
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import tenacity

from usage_billing.errors import (
    ClientError,
    ConflictError,
    RateLimitedError,
    RetriableError,
    ServerError,
    TransportError,
)
from usage_billing.settings import HttpSettings

MAX_RETRY_AFTER_SECONDS = 300.0
USER_AGENT = "usage-billing-sync/0.1"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, moment.timestamp() - current)


def vendor_message(response: httpx.Response) -> str:
    """The error message a billing API put in its body, short; never headers."""
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:300].strip() or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:300]
        for key in ("message", "error", "detail", "title"):
            if isinstance(body.get(key), str):
                return str(body[key])[:300]
    return json.dumps(body)[:300]


def classify(response: httpx.Response) -> None:
    """Raise the matching `usage_billing.errors` class for a non-2xx response; return for 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    where = f"{response.request.method} {response.request.url.path}"
    message = f"{where} answered {status}: {vendor_message(response)}"
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    should_retry = response.headers.get("Stripe-Should-Retry")
    if should_retry == "false":
        raise ClientError(message + " (the server asked not to retry)", status)
    if should_retry == "true":
        raise ServerError(message, retry_after)
    if status == 429:
        raise RateLimitedError(message, retry_after)
    if status == 409:
        raise ConflictError(message, retry_after)
    if status >= 500:
        raise ServerError(message, retry_after)
    raise ClientError(message, status)


class _Wait(tenacity.wait.wait_base):
    """Full-jitter exponential backoff, or the server's Retry-After when it gave one."""

    def __init__(self, settings: HttpSettings) -> None:
        self.jitter = tenacity.wait_random_exponential(
            multiplier=settings.backoff_initial_seconds, max=settings.backoff_max_seconds
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RetriableError) and error.retry_after is not None:
            return min(error.retry_after, MAX_RETRY_AFTER_SECONDS)
        return float(self.jitter(retry_state))


def retrying(
    settings: HttpSettings, sleep: Callable[[float], None] = time.sleep
) -> tenacity.Retrying:
    """The retry policy: retriable errors only, `max_attempts` tries, then re-raise."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(RetriableError),
        stop=tenacity.stop_after_attempt(settings.max_attempts),
        wait=_Wait(settings),
        sleep=sleep,
        reraise=True,
    )


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context per process: building one reads the CA bundle (tens of ms)."""
    return httpx.create_ssl_context()


class HttpClient:
    """An httpx client whose `send` classifies outcomes and retries when told it is safe."""

    def __init__(
        self,
        base_url: str,
        settings: HttpSettings,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            auth=auth,
            timeout=httpx.Timeout(settings.timeout_seconds),
            transport=transport,
            verify=ssl_context(),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send_once(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One attempt; a 2xx response, or the matching `usage_billing.errors` exception."""
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise TransportError(f"{method} {path} timed out ({type(error).__name__})") from None
        except httpx.TransportError as error:
            raise TransportError(f"{method} {path} failed: {type(error).__name__}") from None
        classify(response)
        return response

    def send(self, method: str, path: str, *, retry: bool, **kwargs: Any) -> httpx.Response:
        """`send_once`, retried by the policy when `retry` (the request is safe to resend)."""
        if not retry:
            return self.send_once(method, path, **kwargs)
        for attempt in retrying(self.settings, self._sleep):
            with attempt:
                return self.send_once(method, path, **kwargs)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def json(self, method: str, path: str, *, retry: bool, **kwargs: Any) -> Any:
        """`send`, returning the decoded JSON body (None when empty)."""
        response = self.send(method, path, retry=retry, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ServerError(f"{method} {path} answered a body that is not JSON") from None
