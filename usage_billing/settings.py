"""Settings of the sync, from `USAGE_BILLING_*` environment variables, parsed once.

Secrets come only from the environment and are held in `Secret`, whose str() and repr() never
show the value. `.env.example` lists every variable. A target's secrets are checked when that
target is used (`require_*`), so a missing one fails before any request, naming the variable;
so does a target URL that is not https (plain http only to this machine).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from usage_billing.errors import ConfigError

PREFIX = "USAGE_BILLING_"
STRIPE_API_VERSION = "2026-07-29.dahlia"
SEQUENCE_API_VERSION = "2024-07-30"


class Secret:
    """A secret string; printing it shows `********`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for an Authorization header and nothing else."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"


@dataclass(frozen=True)
class HttpSettings:
    timeout_seconds: float = 30.0
    max_attempts: int = 6
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0


@dataclass(frozen=True)
class Settings:
    """Everything the sync reads from the environment."""

    http: HttpSettings
    sync_schema: str | None
    stripe_api_key: Secret | None
    stripe_api_base: str
    stripe_version: str
    sequence_client_id: str | None
    sequence_client_secret: Secret | None
    sequence_api_base: str
    sequence_version: str
    webhook_url: str | None
    webhook_secret: Secret | None

    def require_stripe(self) -> Secret:
        _encrypted_url(self.stripe_api_base, "STRIPE_API_BASE")
        return _required(self.stripe_api_key, "STRIPE_API_KEY")

    def require_sequence(self) -> tuple[str, Secret]:
        _encrypted_url(self.sequence_api_base, "SEQUENCE_API_BASE")
        client_id = _required(self.sequence_client_id, "SEQUENCE_CLIENT_ID")
        return client_id, _required(self.sequence_client_secret, "SEQUENCE_CLIENT_SECRET")

    def require_webhook(self) -> tuple[str, Secret]:
        url = _encrypted_url(_required(self.webhook_url, "WEBHOOK_URL"), "WEBHOOK_URL")
        secret = _required(self.webhook_secret, "WEBHOOK_SECRET")
        if not secret.reveal().startswith("whsec_"):
            raise ConfigError(
                f"{PREFIX}WEBHOOK_SECRET must be a Standard Webhooks secret: 'whsec_' followed"
                " by base64 (the value itself is not shown)"
            )
        return url, secret


T = TypeVar("T")


def _required(value: T | None, name: str) -> T:
    if value is None:
        raise ConfigError(f"set the environment variable {PREFIX}{name} (see .env.example)")
    return value


def _encrypted_url(url: str, name: str) -> str:
    """`url` when it is https, or http to this machine (a local proxy, the tests' servers);
    ConfigError otherwise, before any request: over plain http the API key or signature and
    the invoices can be read, and changed, by anything on the way."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise ConfigError(f"{PREFIX}{name} is not a URL: {error}") from None
    if parsed.scheme == "https" and parsed.host:
        return url
    if parsed.scheme == "http" and _is_loopback(parsed.host):
        return url
    if parsed.scheme == "http":
        raise ConfigError(
            f"{PREFIX}{name} is plain http to {parsed.host!r}: use https; plain http is allowed"
            " only to this machine (localhost, 127.0.0.0/8, ::1)"
        )
    # The URL itself is not shown: it may carry a password (https://user:password@host).
    raise ConfigError(f"{PREFIX}{name} must be an https:// URL with a host")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost: it may resolve anywhere
        return False


def _text(environment: Mapping[str, str], name: str) -> str | None:
    value = environment.get(PREFIX + name, "").strip()
    return value or None


def _secret(environment: Mapping[str, str], name: str) -> Secret | None:
    value = _text(environment, name)
    return Secret(value) if value is not None else None


def _number(environment: Mapping[str, str], name: str, default: float) -> float:
    value = _text(environment, name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be a number, not {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{PREFIX}{name} must be positive, not {value!r}")
    return number


def load_settings(environment: Mapping[str, str] | None = None) -> Settings:
    """Parse the settings from `environment` (default: os.environ)."""
    env = os.environ if environment is None else environment
    http = HttpSettings(
        timeout_seconds=_number(env, "HTTP_TIMEOUT", HttpSettings.timeout_seconds),
        max_attempts=int(_number(env, "HTTP_MAX_ATTEMPTS", HttpSettings.max_attempts)),
        backoff_initial_seconds=_number(
            env, "HTTP_BACKOFF_INITIAL", HttpSettings.backoff_initial_seconds
        ),
        backoff_max_seconds=_number(env, "HTTP_BACKOFF_MAX", HttpSettings.backoff_max_seconds),
    )
    return Settings(
        http=http,
        sync_schema=_text(env, "SYNC_SCHEMA"),
        stripe_api_key=_secret(env, "STRIPE_API_KEY"),
        stripe_api_base=(_text(env, "STRIPE_API_BASE") or "https://api.stripe.com").rstrip("/"),
        stripe_version=_text(env, "STRIPE_VERSION") or STRIPE_API_VERSION,
        sequence_client_id=_text(env, "SEQUENCE_CLIENT_ID"),
        sequence_client_secret=_secret(env, "SEQUENCE_CLIENT_SECRET"),
        sequence_api_base=(
            _text(env, "SEQUENCE_API_BASE") or "https://sandbox.sequencehq.com/api"
        ).rstrip("/"),
        sequence_version=_text(env, "SEQUENCE_VERSION") or SEQUENCE_API_VERSION,
        webhook_url=_text(env, "WEBHOOK_URL"),
        webhook_secret=_secret(env, "WEBHOOK_SECRET"),
    )


@dataclass(frozen=True)
class ApiSettings:
    """The ingestion API's settings (`usage-billing serve`)."""

    keys: tuple[Secret, ...]
    account_id: str
    max_body_bytes: int
    max_batch_events: int


def _api_keys(environment: Mapping[str, str]) -> tuple[Secret, ...]:
    """Keys from USAGE_BILLING_API_KEYS (comma or whitespace separated), or one a line from the
    file named by USAGE_BILLING_API_KEYS_FILE (blank lines and `#` comments skipped). None set:
    no key, and the ingestion API refuses every request (the pages still serve)."""
    inline = _text(environment, "API_KEYS")
    path = _text(environment, "API_KEYS_FILE")
    if inline is not None and path is not None:
        raise ConfigError(f"set {PREFIX}API_KEYS or {PREFIX}API_KEYS_FILE, not both")
    if inline is not None:
        keys = inline.replace(",", " ").split()
    elif path is not None:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ConfigError(
                f"{PREFIX}API_KEYS_FILE: cannot read {path} ({error.strerror})"
            ) from None
        keys = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    else:
        keys = []
    if path is not None and not keys:
        raise ConfigError(f"{PREFIX}API_KEYS_FILE: {path} holds no key")
    return tuple(Secret(key) for key in keys)


def load_api_settings(environment: Mapping[str, str] | None = None) -> ApiSettings:
    """Parse the ingestion API's settings from `environment` (default: os.environ)."""
    env = os.environ if environment is None else environment
    return ApiSettings(
        keys=_api_keys(env),
        account_id=_text(env, "API_ACCOUNT_ID") or "usage_billing",
        max_body_bytes=int(_number(env, "API_MAX_BODY_BYTES", 8 * 1024 * 1024)),
        max_batch_events=int(_number(env, "API_MAX_BATCH_EVENTS", 10_000)),
    )
