"""Clone to first card: a fresh clone, `make serve`, and the seconds until the service answers
with a card, then until the background update has brought in the whole default index.

    .venv/bin/python bench/first_card.py [--port 8097] [--keep DIR] [--no-pip-cache]

It clones this checkout (committed work only) into a temporary folder, runs `make serve` there
(the first serve: install, export, the first index, serve, the background update), polls
`/readyz`, then posts bench/article_fentanyl_tariffs.txt to `/v1/context` every 2 s until a
sentence has a card, and waits for `var/index.update.log` to report the update. Everything it
started is stopped at the end. `--no-pip-cache` installs as a machine without pip's cache would.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "bench" / "article_fentanyl_tariffs.txt"


def _cards(port: int, body: bytes) -> int | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/context", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return sum(len(s.get("cards", [])) for s in answer.get("sentences", []))


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--keep", type=Path, help="clone here and keep it (default: a temporary folder)")
    parser.add_argument("--no-pip-cache", action="store_true")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before giving up")
    args = parser.parse_args()

    paragraphs = [p.strip() for p in ARTICLE.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    body = json.dumps({"blocks": [{"id": f"p{n}", "text": p} for n, p in enumerate(paragraphs)]}).encode()
    work = args.keep or Path(tempfile.mkdtemp(prefix="aside-first-card-")) / "aside"
    env = {**os.environ, "ASIDE_PORT": str(args.port)}
    if args.no_pip_cache:
        env["PIP_NO_CACHE_DIR"] = "1"
    start = time.monotonic()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(work)], check=True)
    log = (work.parent / "make-serve.log").open("w")
    # its own process group: make, the service and the background update stop together
    serve = subprocess.Popen(["make", "serve"], cwd=work, env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    ready = card = updated = None
    try:
        while time.monotonic() - start < args.timeout and serve.poll() is None:
            now = time.monotonic() - start
            if ready is None and _ready(args.port):
                ready = now
                print(f"ready:      {ready:6.0f} s")
            if ready is not None and card is None and (cards := _cards(args.port, body)):
                card = now
                print(f"first card: {card:6.0f} s ({cards} cards for the article)")
            update_log = work / "var" / "index.update.log"
            if card is not None and update_log.is_file() and "build" in update_log.read_text():
                updated = now
                print(f"full index: {updated:6.0f} s (the background update is done)")
                print(update_log.read_text().strip())
                break
            time.sleep(2)
        else:
            print(f"gave up after {time.monotonic() - start:.0f} s; see {work.parent / 'make-serve.log'}")
    finally:
        try:
            os.killpg(serve.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        # the background update was started by make with nohup: it is in the group too
        serve.wait(timeout=30)
        log.close()
    print(f"clone: {work}")


if __name__ == "__main__":
    main()
