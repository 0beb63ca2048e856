"""What the benches share: the sample article, LIAR statements as new text, a free port, HTTP
calls to a running service, percentiles and the memory of its processes."""

from __future__ import annotations

import gzip
import itertools
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["ARTICLE", "children", "context_body", "free_port", "liar_statements", "memory_mb",
           "percentile", "post_json", "status_of"]

ARTICLE = Path(__file__).resolve().parent / "article_fentanyl_tariffs.txt"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status_of(url: str) -> int:
    """The HTTP status of a GET, or 0 when nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


def post_json(url: str, body: bytes) -> dict:
    """POST a JSON body and return the decoded answer."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def percentile(values: list[float], q: float) -> float:
    """The q-th quantile (0..1) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def memory_mb(pid: int) -> tuple[float, float]:
    """RSS and PSS of a process in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            values[key] = int(rest.split()[0]) / 1024
    return values["Rss"], values["Pss"]


def children(pid: int) -> list[int]:
    """The ids of a process's child processes (gunicorn's workers)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(c) for c in text.split()]


def liar_statements(data: Path) -> Iterator[str]:
    """LIAR's statements, each once; then again with a round number, so text stays new."""
    found = []
    for split in ("test", "valid", "train"):
        with gzip.open(data / "liar" / f"{split}.tsv.gz", "rt", encoding="utf-8") as rows:
            for line in rows:
                cols = line.split("\t")
                if len(cols) > 2 and len(cols[2].split()) >= 6:
                    found.append(cols[2].strip())
    yield from found
    for round_number in itertools.count(2):
        for statement in found:
            yield f"{statement} (Round {round_number}.)"


def context_body(sentences: list[str]) -> bytes:
    """A /v1/context request body: the sentences as paragraphs of four."""
    paragraphs = [" ".join(sentences[i:i + 4]) for i in range(0, len(sentences), 4)]
    return json.dumps({"blocks": [{"id": f"p{n}", "text": p} for n, p in enumerate(paragraphs)]}).encode()
