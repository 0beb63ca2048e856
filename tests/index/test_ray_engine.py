"""The ray engine on a Ray cluster of two nodes on loopback (started and stopped here): its
builds and updates equal local ones, a failing source is reported and skipped as locally,
and no Ray process listens on or connects to anything but loopback."""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from index.build import BuildOptions, build, update
from index.cli import index_group
from index.search import search_texts
from index.sources import parse_spec
from index.store import Store
from tests.conftest import FIXTURES, FakeEmbedder

pytestmark = pytest.mark.ray

QUERIES = [
    "Mexico is the largest supplier of fentanyl seized at the US border.",
    "Canada's population is concentrated near the southern border.",
    "Oil exports make up a large share of government revenue.",
    "The president is elected for a single six-year term.",
    "Severe earthquakes and volcanic eruptions are natural hazards.",
    "The council approved the new budget for schools.",
]


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node of one CPU each on 127.0.0.1, traced when strace is here."""
    if importlib.util.find_spec("ray") is None:
        message = "Ray is not installed: pip install -e '.[dev]' (or '.[ray]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from tests.index.ray_cluster import LoopbackCluster

    started = LoopbackCluster(cpus=1, trace=True).start()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in started.auth.items():
            patch.setenv(key, value)
        yield started
    pids = started.pids()
    started.stop()
    assert not [p for p in pids if _running(p)], "Ray processes left running"


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _documents(folder: Path, version: int) -> Path:
    """An operator's JSONL: version 2 changes one document, drops one and adds one."""
    docs = {
        "tariffs": "Tariffs are taxes on imported goods. They raise prices for buyers.",
        "budget": "The council approved the new budget for schools. Teachers get a raise.",
        "river": "The river flooded the valley in spring. Farms lost their crops.",
    }
    if version == 2:
        docs["budget"] = "The council rejected the budget for schools. A new vote is planned."
        del docs["river"]
        docs["border"] = "Most fentanyl seized at the border is carried by US citizens."
    path = folder / f"docs-v{version}.jsonl"
    path.write_text("".join(json.dumps({"id": k, "text": v, "url": f"https://example.org/{k}"}) + "\n"
                            for k, v in docs.items()), encoding="utf-8")
    return path


def _specs(folder: Path, version: int) -> list[str]:
    # A copy under one name for both versions, so an update sees the same source changed.
    shutil.copy(_documents(folder, version), folder / "docs.jsonl")
    return ["factbook:mx,ca", f"jsonl:{folder / 'docs.jsonl'}", f"csv:{FIXTURES / 'csv' / 'docs.csv'}",
            f"feed:{FIXTURES / 'feeds' / 'news.rss'}"]


class _SocketWatch:
    """Samples the sockets of the given processes (the cluster's and this one) until stopped."""

    def __init__(self, pids) -> None:
        self._pids = pids
        self.seen: set[tuple[str, str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _SocketWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.seen |= _sockets([*self._pids(), os.getpid()])
            self._stop.wait(0.1)


@pytest.fixture(scope="module")
def builds(cluster, tmp_path_factory):
    """The same sources built and then updated locally and on the cluster (watched)."""
    root = tmp_path_factory.mktemp("ray")
    embedder = FakeEmbedder()
    first = _specs(root, 1)
    local_build = build([parse_spec(s) for s in first], root / "local", embedder)
    from click.testing import CliRunner

    with _SocketWatch(cluster.pids) as watch:
        args = ["build", "--out", str(root / "ray"), "--engine", "ray", "--address", cluster.address]
        result = CliRunner().invoke(index_group, args + [a for s in first for a in ("--source", s)],
                                    obj={"embedder": embedder})
    assert result.exit_code == 0, result.output
    stores = {"build": (Store.open(root / "local"), Store.open(root / "ray"))}
    # The update adds a source that fails while it is read: a file gone since it was named.
    second = _specs(root, 2)
    gone = root / "gone.jsonl"
    gone.write_text("{}\n")
    sources = [*(parse_spec(s) for s in second), parse_spec(f"jsonl:{gone}")]
    gone.unlink()
    local_update = update(sources, root / "local", embedder)
    ray_update = update(sources, root / "ray", embedder,
                        BuildOptions(engine="ray", ray_address=cluster.address))
    stores["update"] = (Store.open(root / "local"), Store.open(root / "ray"))
    return {"stores": stores, "reports": (local_build, local_update, ray_update), "sockets": watch.seen,
            "embedder": embedder}


def _assert_same_store(local: Store, ray: Store, embedder) -> None:
    count = local.manifest.passages
    assert ray.manifest.passages == count > 150
    ids = np.arange(1, count + 1)
    # The same passages, in the same order, with the same ids, texts and provenance.
    assert [p.to_dict() for p in ray.passages(ids).values()] == \
        [p.to_dict() for p in local.passages(ids).values()]
    assert ray.documents() == local.documents()
    assert np.allclose(ray.vectors(ids), local.vectors(ids), atol=1e-5)
    top_local = search_texts(local, embedder, QUERIES, k=5)
    top_ray = search_texts(ray, embedder, QUERIES, k=5)
    for a, b in zip(top_local, top_ray, strict=True):
        assert [h.passage.id for h in b] == [h.passage.id for h in a]


@pytest.mark.parametrize("step", ["build", "update"])
def test_the_cluster_writes_the_store_a_local_run_writes(builds, step):
    local, ray = builds["stores"][step]
    _assert_same_store(local, ray, builds["embedder"])
    assert ray.manifest.model == local.manifest.model and ray.manifest.index == local.manifest.index


def test_an_update_on_the_cluster_reports_what_a_local_one_does(builds):
    _, local, ray = builds["reports"]
    assert ray.documents == local.documents and ray.documents["changed"] == 1
    assert ray.passages == local.passages and ray.passages["embedded"] > 0
    assert ray.duplicates == local.duplicates


def test_a_failing_source_is_reported_and_skipped_as_locally(builds):
    _, local, ray = builds["reports"]
    summary = [[(s.name, s.read, s.skipped, s.failed, dict(s.reasons)) for s in r.sources]
               for r in (local, ray)]
    assert summary[1] == summary[0]
    failed = [s for s in ray.sources if s.failed]
    assert len(failed) == 1 and "gone.jsonl" in failed[0].name and "No such file" in failed[0].failed
    # The other sources were read and published.
    assert ray.manifest.passages > 150


def test_ray_listens_and_connects_on_loopback_only(builds, cluster):
    # Sampled while the cluster built: this process (the driver) and every Ray process.
    seen = builds["sockets"]
    assert any(state == "LISTEN" for _, _, state in seen), "the watch saw no Ray sockets"
    outside = sorted(s for s in seen if not (_loopback(s[0]) and _loopback(s[1], remote=True)))
    assert not outside, f"sockets beyond loopback: {outside}"
    if not cluster.trace:
        pytest.skip("strace is not installed: checked sampled sockets only, not every connect")
    # Every connect, bind and listen of every Ray process since it started, however short-lived:
    # metadata services, usage reports and DNS would show here.
    calls = cluster.network_calls()
    assert any("bind(" in c and f"htons({cluster.port})" in c for c in calls)
    outside_calls = _beyond_loopback(calls)
    assert not outside_calls, "\n".join(outside_calls[:20])


def _beyond_loopback(calls: list[str]) -> list[str]:
    """Connects to, listening TCP sockets on and UDP sockets bound to a non-loopback address.

    The raylet binds TCP sockets to 0.0.0.0 and closes them unheard, to find free worker
    ports: a bind alone opens nothing, so a TCP bind counts only when ``listen`` follows.
    """
    kinds: dict[tuple[str, str], str] = {}
    bound: dict[tuple[str, str], str] = {}
    found = []
    for call in calls:
        tid, _, rest = call.partition(" ")
        if rest.startswith("socket(") and (fd := rest.rpartition("= ")[2]).isdigit():
            kinds[tid, fd] = "udp" if "SOCK_DGRAM" in rest else "tcp"
            continue
        fd = rest.partition("(")[2].partition(",")[0]
        outside = not all(_loopback(a) for a in _addresses(rest))
        if rest.startswith("connect(") and outside:
            found.append(call)
        elif rest.startswith("bind(") and " = 0" in rest:
            bound[tid, fd] = call
            if outside and kinds.get((tid, fd)) == "udp":
                found.append(call)
        elif rest.startswith("listen(") and (tid, fd) in bound:
            if not all(_loopback(a) for a in _addresses(bound[tid, fd])):
                found.append(f"{bound[tid, fd]} then {call}")
    return found


def test_an_address_needs_the_ray_engine(runner, tmp_path):
    result = runner.invoke(index_group, ["build", "--out", str(tmp_path / "x"), "--source",
                                         f"jsonl:{FIXTURES / 'jsonl' / 'docs.jsonl'}",
                                         "--address", "127.0.0.1:6379"], obj={"embedder": FakeEmbedder()})
    assert result.exit_code == 2 and "--engine ray" in result.output


_PROC_STATES = {"01": "ESTABLISHED", "0A": "LISTEN", "06": "TIME_WAIT", "07": "CLOSE"}


def _sockets(pids) -> set[tuple[str, str, str]]:
    """(local, remote, state) of the TCP and UDP sockets these processes hold open now."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue  # ended meanwhile
    found = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[9] in inodes:
                found.add((_address(cols[1]), _address(cols[2]), _PROC_STATES.get(cols[3], cols[3])))
    return found


def _address(hex_address: str) -> str:
    """/proc/net's ADDR:PORT (hex, host byte order per 32-bit word) as an IP address."""
    raw, _, _ = hex_address.partition(":")
    packed = b"".join(bytes.fromhex(raw[i:i + 8])[::-1] for i in range(0, len(raw), 8))
    return str(ipaddress.ip_address(packed))


def _loopback(address: str, *, remote: bool = False) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    # A listening or unconnected socket's remote end is all zeros.
    return ip.is_loopback or (remote and ip.is_unspecified)


def _addresses(call: str) -> list[str]:
    """The IP addresses in one strace line (inet_addr("…"), inet_pton(AF_INET6, "…"))."""
    return [a or b for a, b in _INET.findall(call)]


_INET = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')
