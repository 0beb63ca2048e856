"""Optional API keys: stored hashed, checked on /v1/ requests, rotated without a restart.

An operator makes a key with ``aside keys new``: the key goes to the client
(the extension's options page), and only its hash (``sha256:<hex>``) goes to
the service, in ``ASIDE_API_KEYS`` or in the file ``ASIDE_API_KEYS_FILE``
(re-read whenever it changes). Keys are 32 random bytes, so a plain SHA-256
suffices: there is nothing to guess that a slow hash would protect.

A request names its key in ``X-API-Key`` (or ``Authorization: Bearer KEY``).
Logs, metrics and rate limits know a key only by its id, the first 12 hex
digits of its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app, g, request

from server.errors import Unauthorized

__all__ = [
    "KeyRing", "hash_key", "init_app", "is_protected", "key_id", "new_key", "presented_key",
    "request_key_id",
]

logger = logging.getLogger(__name__)

_PREFIX = "sha256:"
_PROTECTED = "/v1/"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def hash_key(key: str) -> str:
    """The form in which a key is stored: ``sha256:<hex>``."""
    return _PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id(hashed: str) -> str:
    """A short, public name for a key: enough to tell keys apart in logs and limits."""
    return hashed.removeprefix(_PREFIX)[:12]


def new_key() -> tuple[str, str]:
    """A new random key and its hash."""
    key = "aside_" + secrets.token_urlsafe(32)
    return key, hash_key(key)


def _parse(lines: list[str], where: str) -> set[str]:
    hashes = set()
    for number, line in enumerate(lines, start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        digest = entry.removeprefix(_PREFIX)
        if not entry.startswith(_PREFIX) or not _HEX64.fullmatch(digest):
            raise ValueError(f"{where}, entry {number}: not a key hash (expected sha256:<64 hex digits>; "
                             "make one with `aside keys new`)")
        hashes.add(entry)
    return hashes


@dataclass
class KeyRing:
    """The accepted key hashes: from the setting, plus a file re-read when its mtime changes."""

    inline: frozenset[str] = frozenset()
    path: Path | None = None
    _from_file: frozenset[str] = frozenset()
    _stamp: tuple[int, int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_config(cls, keys: str, path: str) -> KeyRing:
        ring = cls(frozenset(_parse(keys.replace(",", "\n").splitlines(), "ASIDE_API_KEYS")),
                   Path(path) if path else None)
        ring.refresh(strict=True)
        return ring

    def refresh(self, *, strict: bool = False) -> None:
        """Re-read the keys file if it changed; a bad file keeps the previous keys (logged)."""
        if self.path is None:
            return
        try:
            info = os.stat(self.path)
        except OSError as exc:
            if strict:
                raise ValueError(f"ASIDE_API_KEYS_FILE: cannot read {self.path} ({exc})") from exc
            logger.error("cannot read the API keys file %s (%s); keeping the keys loaded before",
                         self.path, exc.strerror)
            return
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            try:
                hashes = _parse(self.path.read_text(encoding="utf-8").splitlines(), str(self.path))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                if strict:
                    raise ValueError(str(exc)) from exc
                logger.error("refused the API keys file %s: %s; keeping the keys loaded before",
                             self.path, exc)
                self._stamp = stamp
                return
            self._from_file, self._stamp = frozenset(hashes), stamp
            logger.info("API keys file %s: %d keys", self.path, len(hashes))

    @property
    def enabled(self) -> bool:
        return bool(self.inline) or self.path is not None

    def match(self, key: str) -> str | None:
        """The hash of an accepted key, or None."""
        hashed = hash_key(key)
        for known in self.inline | self._from_file:
            if hmac.compare_digest(known, hashed):
                return known
        return None


def presented_key() -> str | None:
    """The key the request presents, valid or not: ``X-API-Key`` or ``Authorization: Bearer``."""
    key = request.headers.get("X-API-Key")
    if key:
        return key.strip()
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def request_key_id() -> str | None:
    """The id of the key that authenticated this request, if any."""
    found: str | None = g.get("aside_key_id")
    return found


def is_protected() -> bool:
    """Whether this request is to the API proper (/v1/, not a CORS preflight)."""
    return request.path.startswith(_PROTECTED) and request.method != "OPTIONS"


def _check() -> None:
    ring: KeyRing = current_app.extensions["aside_keys"]
    if not ring.enabled or not is_protected():
        return
    ring.refresh()
    key = presented_key()
    if not key:
        raise Unauthorized("this service needs an API key: send it in the X-API-Key header")
    hashed = ring.match(key)
    if hashed is None:
        raise Unauthorized("the API key is not valid (revoked or mistyped)")
    g.aside_key_id = key_id(hashed)


def init_app(app: Flask) -> None:
    """Load the key ring and check keys before every /v1/ request."""
    app.extensions["aside_keys"] = KeyRing.from_config(app.config["API_KEYS"], app.config["API_KEYS_FILE"])
    app.before_request(_check)
