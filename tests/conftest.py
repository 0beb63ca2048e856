"""Shared fixtures: a deterministic fake embedder, a tiny store built with it, the app."""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import os
import re
import socket
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from index import settings
from index.build import build
from index.embedders import Embedder, SentenceTransformerEmbedder
from index.sources import Source, parse_spec
from index.sources.factbook import iter_factbook
from index.sources.wikipedia import iter_wikipedia
from server import create_app

FIXTURES = Path(__file__).parent / "fixtures"
_WORD = re.compile(r"\w+")

_connect = socket.socket.connect


def _loopback_only(sock: socket.socket, address: object) -> None:
    """socket.connect for the whole test run: TCP to loopback only. No test reaches the
    internet or the machine's own address; one that tries fails with the address it tried."""
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        host = str(address[0]) if isinstance(address, tuple) else str(address)  # type: ignore[index]
        try:
            loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise OSError(errno.ENETUNREACH, f"tests may connect to loopback only, not {address}")
    _connect(sock, address)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]
    # Reader reports and blocks: never the checkout's var/feedback (an operator's real blocks
    # would change answers, and tests would write reports there). A test that needs its own
    # sets ASIDE_FEEDBACK_DIR or FEEDBACK_DIR in its app's config.
    if "ASIDE_FEEDBACK_DIR" not in os.environ:
        os.environ["ASIDE_FEEDBACK_DIR"] = tempfile.mkdtemp(prefix="aside-test-feedback-")


class FakeEmbedder(Embedder):
    """Bag of hashed words: texts sharing words get high cosine. Deterministic and instant."""

    def __init__(self, dim: int = 256, name: str = "test/hashed-words") -> None:
        self._dim = dim
        self._name = name
        self.calls: list[list[str]] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self._dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


def fixture_sources() -> list[Source]:
    """Small real data: four Factbook profiles, a few Wikipedia summaries, operator JSONL."""
    return [
        Source("factbook", partial(iter_factbook, data_dir=FIXTURES / "factbook")),
        Source("wikipedia", partial(iter_wikipedia, data_dir=FIXTURES / "wikipedia")),
        parse_spec(f"jsonl:{FIXTURES / 'jsonl' / 'docs.jsonl'}"),
    ]


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store built from the fixtures with the fake embedder; treat it as read-only."""
    out = tmp_path_factory.mktemp("store") / "index"
    build(fixture_sources(), out, FakeEmbedder())
    return out


@pytest.fixture
def app(tiny_store: Path, fake_embedder: FakeEmbedder):
    # Rate limits are off here (hypothesis tests send hundreds of requests); their own tests
    # turn them on.
    return create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": fake_embedder,
                       "THRESHOLD": 0.3, "RATE_LIMIT_PER_ADDRESS": ""})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


WIKIPEDIA_TITLES = ["Mexico", "Illegal drug trade", "Tariff", "Protectionism", "Opium", "Canada",
                    "United States", "Free trade", "Cocaine", "Climate change"]


@pytest.fixture(scope="session")
def model() -> SentenceTransformerEmbedder:
    """The real packaged model, loaded once for the whole run."""
    return SentenceTransformerEmbedder(threads=2)


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory, model: SentenceTransformerEmbedder) -> Path:
    """A small index built with the real model from real package data (and one hostile record)."""
    out = tmp_path_factory.mktemp("real") / "index"
    build(
        [parse_spec("factbook:mx,us,ca,ch"),
         Source("wikipedia", partial(iter_wikipedia, titles=WIKIPEDIA_TITLES)),
         parse_spec(f"jsonl:{FIXTURES / 'jsonl' / 'hostile.jsonl'}")],
        out, model,
    )
    return out


def data_dir() -> Path | None:
    """The folder of the public evaluation datasets ($ASIDE_DATA_DIR), or None when unset."""
    return settings.load(os.environ).data_dir


def require_data(folder: str, marker: str) -> Path:
    """The dataset ``folder`` under the data directory, holding ``marker``.

    When it is not there the test is skipped with the reason, except under CI (``CI`` set),
    where a quality gate that cannot run must fail rather than pass by skipping.
    """
    root = data_dir()
    if root is None or not (root / folder / marker).is_file():
        where = f"not in {root} (ASIDE_DATA_DIR)" if root else "needed, and ASIDE_DATA_DIR is not set"
        message = f"the dataset {folder}/{marker} is {where}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return root / folder
