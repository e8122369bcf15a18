"""API keys: sent as `Authorization: Bearer KEY` or Basic auth with the key as the password (any
user name, as a Sequence client sends its client id and secret) or as the user name with an
empty password (`curl -u KEY:`). Keys are compared as SHA-256 digests with
`hmac.compare_digest`, against every configured key without stopping at a match, so the time
taken says nothing about a key. No key is ever logged or echoed."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from fastapi import HTTPException, Request, status

from usage_billing.settings import Secret

CHALLENGE = 'Bearer realm="usage-billing", Basic realm="usage-billing"'


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).digest()


def presented_key(authorization: str | None) -> str | None:
    """The key in an Authorization header value, or None when it carries none."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if not credentials:
        return None
    if scheme.lower() == "bearer":
        return credentials
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, separator, password = decoded.partition(":")
    if not separator:
        return None
    return password or user or None


class ApiKeys:
    """The accepted keys, held only as digests."""

    def __init__(self, keys: Sequence[Secret]) -> None:
        self._digests = tuple(_digest(key.reveal()) for key in keys)

    def accepts(self, authorization: str | None) -> bool:
        key = presented_key(authorization)
        if key is None:
            return False
        digest = _digest(key)
        matched = False
        for accepted in self._digests:
            matched |= hmac.compare_digest(accepted, digest)
        return matched


def require_api_key(request: Request) -> None:
    """FastAPI dependency: 401 unless the request carries an accepted key."""
    keys: ApiKeys = request.app.state.api_keys
    if not keys.accepts(request.headers.get("authorization")):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or unknown API key: send Authorization: Bearer <key> or Basic auth",
            headers={"WWW-Authenticate": CHALLENGE},
        )
