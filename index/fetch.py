"""One safe way to fetch a URL for every source: http(s) only, public addresses only, bounded.

A fetch has a connect timeout and a total deadline (the whole fetch, however slowly the
bytes come), a size cap on the decoded body (gzip/deflate are decoded here, so the cap
bounds memory, not the wire), and a redirect limit. The host is resolved here and the
connection is made to the address that was checked, again after every redirect, so DNS
rebinding cannot slip a private address in between the check and the connect. Loopback,
private, link-local and other non-global addresses are refused unless ``allow_private``
(``ASIDE_FETCH_PRIVATE``) lets an operator index an intranet; link-local (cloud metadata
at 169.254.169.254), multicast, unspecified and reserved addresses are refused always.

Conditional requests: give ``etag``/``last_modified`` and a 304 comes back as a ``Fetched``
with ``not_modified`` true and the validators the server sent.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import os
import socket
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import Message
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error

__all__ = ["USER_AGENT", "Connector", "FetchError", "FetchLimits", "Fetched", "Fetcher", "RefusedError",
           "Resolver", "default_fetcher", "refusal"]

logger = logging.getLogger(__name__)

USER_AGENT = "Aside-indexer/1 (+self-hosted fact-checking context; https://github.com/aside)"
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024

Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> IP addresses as text; socket.getaddrinfo by default, a fake in tests."""

Connector = Callable[[tuple[str, int], float | None], socket.socket]
"""((address, port), connect timeout in seconds) -> a connected socket: the transport. The
address is one the guard allowed; tests inject one that records or refuses every attempt."""


class FetchError(Exception):
    """A URL could not be fetched; the message says why in words (no traceback needed)."""


class RefusedError(FetchError):
    """The URL's scheme or address is not one Aside fetches from."""


@dataclass(frozen=True, kw_only=True)
class FetchLimits:
    """Bounds of one fetch: seconds, bytes (decoded), redirects, and the private-address switch."""

    connect_timeout: float = 10.0
    deadline: float = 60.0
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False


@dataclass(frozen=True)
class Fetched:
    """A fetched resource: final URL after redirects, HTTP status, decoded body, validators.

    A 304 (``not_modified``) has an empty body; keep the copy fetched before. A body written
    to a ``sink`` is not kept here either: ``size`` counts its decoded bytes.
    """

    url: str
    status: int
    body: bytes
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    size: int = 0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def charset(self) -> str | None:
        """The charset the Content-Type names, if any."""
        if not self.content_type:
            return None
        message = Message()
        message["content-type"] = self.content_type
        charset = message.get_content_charset()
        return str(charset) if charset else None

    def text(self) -> str:
        """The body as text: the declared charset, else UTF-8; undecodable bytes replaced."""
        try:
            return self.body.decode(self.charset or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.body.decode("utf-8", errors="replace")


def refusal(address: str, *, allow_private: bool = False) -> str | None:
    """Why an IP address is refused ("loopback", "link-local", …), or None if it may be used."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever its spelling
    if ip.is_loopback:  # before "reserved": Python counts ::1 as reserved too
        return None if allow_private else "loopback"
    for kind, hit in (("unspecified", ip.is_unspecified), ("multicast", ip.is_multicast),
                      ("link-local", ip.is_link_local), ("reserved", ip.is_reserved)):
        if hit:
            return kind
    if ip.is_global:
        return None
    if allow_private:
        return None
    return "loopback" if ip.is_loopback else "private"


def _system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host} ({exc.strerror})") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _connect(address: tuple[str, int], timeout: float | None) -> socket.socket:
    sock = urllib3.util.connection.create_connection(address, timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as urllib3 does by default
    return sock


@dataclass(frozen=True)
class _Guard:
    """Resolves a host and returns only the addresses that may be connected to."""

    resolver: Resolver
    allow_private: bool
    connect: Connector

    def addresses(self, host: str, port: int) -> list[str]:
        try:
            found = [str(ipaddress.ip_address(host))]  # an IP literal: nothing to resolve
        except ValueError:
            found = list(self.resolver(host, port))
        if not found:
            raise FetchError(f"cannot resolve {host}")
        reasons = {a: refusal(a, allow_private=self.allow_private) for a in found}
        allowed = [a for a, why in reasons.items() if why is None]
        if not allowed:
            kinds = {w for w in reasons.values() if w}
            why = ", ".join(sorted(kinds))
            # the switch allows loopback and private networks, never link-local and the rest
            allowable = not self.allow_private and kinds <= {"loopback", "private"}
            hint = " (ASIDE_FETCH_PRIVATE=true allows private ones)" if allowable else ""
            raise RefusedError(f"refused: {host} is a {why} address{hint}")
        return allowed


class _GuardedMixin:
    """Connects to an address the guard checked (urllib3 would resolve the name again)."""

    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    _dns_host: str

    def __init__(self, *args: Any, guard: _Guard, **kwargs: Any) -> None:
        self._guard = guard
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        last: OSError | None = None
        for address in self._guard.addresses(self._dns_host, self.port):
            try:
                return self._guard.connect((address, self.port), self.timeout)
            except OSError as exc:
                last = exc
        raise FetchError(f"cannot connect to {self.host}:{self.port} ({last})")


class _GuardedHTTP(_GuardedMixin, HTTPConnection):
    pass


class _GuardedHTTPS(_GuardedMixin, HTTPSConnection):
    pass


class _Decoder:
    """Content-Encoding decoding with a bound on the output of each step (a gzip bomb stops)."""

    def __init__(self, encoding: str) -> None:
        self._inflate: Any = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        elif encoding in ("deflate-raw",):
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        elif encoding not in ("", "identity"):
            raise FetchError(f"unsupported Content-Encoding {encoding!r}")
        self._raw_fallback = encoding == "deflate"

    def feed(self, data: bytes, limit: int) -> bytes:
        if self._inflate is None:
            return data
        try:
            return bytes(self._inflate.decompress(data, limit))
        except zlib.error as exc:
            if self._raw_fallback:  # some servers send raw deflate without the zlib header
                self._raw_fallback = False
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.feed(data, limit)
            raise FetchError(f"the compressed body is broken ({exc})") from exc


@dataclass(frozen=True)
class Fetcher:
    """Fetches URLs within ``limits``. ``resolver`` and ``connector`` (the transport) are
    injectable: tests map names to 127.0.0.1 and record or refuse every connection attempt."""

    limits: FetchLimits = field(default_factory=FetchLimits)
    resolver: Resolver = _system_resolver
    connector: Connector = _connect
    user_agent: str = USER_AGENT

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
              sink: IO[bytes] | None = None) -> Fetched:
        """GET ``url`` (following redirects); raise FetchError/RefusedError saying why not.

        With ``sink``, the decoded body is written there as it comes (a download of any size
        up to the cap) instead of being kept in memory; a failed fetch may leave part of it.
        """
        deadline = time.monotonic() + self.limits.deadline
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate",
                   "Accept": "*/*"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        guard = _Guard(self.resolver, self.limits.allow_private, self.connector)
        for _ in range(self.limits.max_redirects + 1):
            try:
                fetched = self._once(url, headers, guard, deadline, sink)
            except Urllib3Error as exc:
                raise FetchError(f"{url}: {_reason(exc)}") from exc
            except OSError as exc:  # socket timeouts and resets while reading the body
                raise FetchError(f"{url}: {_reason(exc)}") from exc
            except FetchError as exc:
                raise type(exc)(f"{url}: {exc}") from exc
            if isinstance(fetched, str):
                url = fetched
                continue
            return fetched
        raise FetchError(f"{url}: more than {self.limits.max_redirects} redirects")

    def _once(self, url: str, headers: dict[str, str], guard: _Guard,
              deadline: float, sink: IO[bytes] | None) -> Fetched | str:
        """One request: a Fetched, or the next URL when redirected."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            scheme = parts.scheme or "a path"
            raise RefusedError(f"refused: only http and https URLs are fetched, not {scheme}")
        if not parts.hostname:
            raise FetchError("the URL has no host")
        remaining = self._remaining(deadline)
        timeout = urllib3.Timeout(connect=min(self.limits.connect_timeout, remaining), read=remaining)
        pool_class = urllib3.HTTPSConnectionPool if parts.scheme == "https" else urllib3.HTTPConnectionPool
        try:  # an explicit port: without one http.client splits "fe80::1" at its last colon
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FetchError(f"not a valid URL ({exc})") from exc
        pool = pool_class(parts.hostname, port, timeout=timeout, retries=False, guard=guard)
        pool.ConnectionCls = _GuardedHTTPS if parts.scheme == "https" else _GuardedHTTP
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            response = pool.urlopen("GET", path, headers=headers, redirect=False, retries=False,
                                    preload_content=False, decode_content=False,
                                    assert_same_host=False)
            try:
                location = response.headers.get("Location")
                if response.status in _REDIRECTS and location:
                    return urljoin(url, location.strip())
                if response.status >= 400 or response.status not in (200, 203, 304):
                    raise FetchError(f"HTTP {response.status} {response.reason or ''}".rstrip())
                memory = io.BytesIO()
                size = 0 if response.status == 304 else self._body(response, deadline, sink or memory)
                body = memory.getvalue()
                return Fetched(url=url, status=response.status, body=body,
                               content_type=response.headers.get("Content-Type"),
                               etag=response.headers.get("ETag"),
                               last_modified=response.headers.get("Last-Modified"),
                               size=int(size))
            finally:
                response.release_conn()
        finally:
            pool.close()

    def _body(self, response: Any, deadline: float, sink: IO[bytes]) -> int:
        """Write the decoded body to ``sink`` as it comes and return its size; cut at the cap or
        the deadline with a FetchError."""
        cap = self.limits.max_bytes
        decoder = _Decoder(response.headers.get("Content-Encoding", "").strip().lower())
        size = 0
        sock = response.connection.sock if response.connection is not None else None
        while True:
            if sock is not None:  # each wait may last only as long as the fetch has left
                sock.settimeout(self._remaining(deadline))
            # read1 returns what has arrived; read(n) would wait for n bytes from a trickle
            chunk = response.read1(_CHUNK, decode_content=False)
            if not chunk:
                break
            data = decoder.feed(chunk, cap - size + 1)
            size += len(data)
            if size > cap:
                raise FetchError(f"larger than the cap of {cap} bytes (ASIDE_FETCH_MAX_BYTES, "
                                 "or max_bytes in a sources file)")
            sink.write(data)
            self._remaining(deadline)
        return size

    def _remaining(self, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError(f"took longer than the deadline of {self.limits.deadline:g}s "
                             "(ASIDE_FETCH_DEADLINE)")
        return left


def _reason(exc: BaseException) -> str:
    """An urllib3/socket error in words, without the pool's repr."""
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if isinstance(reason, TimeoutError | socket.timeout) or "timed out" in text.lower():
        return "timed out"
    return text.split(": ", 1)[-1] if "Pool(" in text else text


def default_fetcher() -> Fetcher:
    """A Fetcher with the limits of the ``ASIDE_FETCH_*`` settings."""
    from index.settings import load  # settings import the embedders; only sources need this

    settings = load(os.environ)
    return Fetcher(FetchLimits(
        connect_timeout=settings.fetch_connect_timeout, deadline=settings.fetch_deadline,
        max_bytes=settings.fetch_max_bytes, allow_private=settings.fetch_private))
