"""What can go wrong in `usage-billing`, split by what to do about it.

    SyncError                  base of everything below; the message says what to do
    ├── RetriableError         try again: the same request may succeed later
    │   ├── TransportError     connection refused, reset or dropped; timeouts
    │   ├── RateLimitedError   HTTP 429
    │   ├── ConflictError      HTTP 409 (a concurrent request with the same key)
    │   └── ServerError        HTTP 5xx, or a 2xx answer that cannot be used
    └── FatalError             do not retry: fix the cause first
        ├── ClientError        other HTTP 4xx, or Stripe-Should-Retry: false; the vendor's message
        ├── ConfigError        a setting or environment variable is missing or wrong
        ├── UnsupportedAmountError  an amount the target cannot represent exactly
        ├── FiguresDifferError  the target computed other figures than the marts (tax)
        └── LoadError          a CSV file that cannot be loaded at all (no header, ...)

Retriable errors carry `retry_after` (seconds) when the server asked for a wait. A request
is retried only while it is safe to resend: with an idempotency key, or where a first attempt
that lands late can do no harm (see `usage_billing.http` and `usage_billing.push.targets.sequence`).
"""

from __future__ import annotations


class SyncError(Exception):
    """Base class: every error the sync raises on purpose."""


class RetriableError(SyncError):
    """The same request may succeed if sent again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransportError(RetriableError):
    """No usable response: connection refused, reset or dropped, or a timeout."""


class RateLimitedError(RetriableError):
    """HTTP 429: slow down and retry."""


class ConflictError(RetriableError):
    """HTTP 409: a concurrent request with the same idempotency key is in flight."""


class ServerError(RetriableError):
    """HTTP 5xx: the server failed; retry."""


class FatalError(SyncError):
    """Retrying cannot help; the message says what to fix."""


class ClientError(FatalError):
    """HTTP 4xx other than 409 and 429: the request was refused; the vendor's message says why."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ConfigError(FatalError):
    """A setting or environment variable is missing or malformed."""


class UnsupportedAmountError(FatalError):
    """An amount the target cannot represent exactly (e.g. Stripe's 3-decimal currencies)."""


class FiguresDifferError(FatalError):
    """The target computed an invoice's tax or total differently from the marts: the invoice is
    left unfinalized there rather than sent with other figures."""


class LoadError(FatalError):
    """A CSV file that cannot be loaded at all; row-level problems go to the reject file."""
