"""The shared browser scenarios (extension/test/browser/scenarios.mjs), run in Chromium and in
Firefox ESR by the Node runner (run.mjs, puppeteer-core: CDP for Chromium, WebDriver BiDi for
Firefox) against this suite's real service and test pages; one test per (scenario, browser).

Each browser runs once per module, all its scenarios in one browser; the tests then read its
JSON lines. A missing Firefox skips its tests, except under CI (``CI`` set), where it fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.model, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "extension"
RUNNER = EXTENSION / "test" / "browser" / "run.mjs"
ARTIFACTS = ROOT / "test-artifacts"
BROWSERS = {
    # name: (executable, the build it loads, how make installs it)
    "chromium": (Path("/usr/bin/chromium"), EXTENSION / "dist" / "chrome", "chromium"),
    "firefox": (Path("/usr/bin/firefox-esr"), EXTENSION / "dist" / "firefox", "firefox-esr"),
}
RUN_TIMEOUT_S = 600


def _scenario_ids() -> list[str]:
    """The runner's own list, so that a scenario added there is a test here."""
    node = shutil.which("node")
    if node is None or not (EXTENSION / "node_modules" / "puppeteer-core").is_dir():
        return ["<runner-unavailable>"]
    try:
        listing = subprocess.run([node, str(RUNNER), "--list"], cwd=EXTENSION, capture_output=True,
                                 text=True, timeout=60, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return ["<runner-unavailable>"]
    return [json.loads(line)["scenario"] for line in listing.splitlines() if line.strip()]


SCENARIOS = _scenario_ids()


@pytest.fixture(scope="module")
def shared_runs(service: tuple[str, Any], site: str) -> Callable[[str], dict[str, Any]]:
    """browser name -> {scenario id: its JSON result}, each browser run once, when first asked."""
    base, _app = service
    runs: dict[str, dict[str, Any]] = {}

    def run(browser: str) -> dict[str, Any]:
        if browser in runs:
            return runs[browser]
        executable, build, package = BROWSERS[browser]
        node = shutil.which("node")
        if node is None or not (EXTENSION / "node_modules" / "puppeteer-core").is_dir():
            pytest.fail("node and extension/node_modules (puppeteer-core) are needed: run `make test`")
        if not executable.exists():
            message = f"{executable} is not installed: `make test` installs Debian's {package}"
            if browser == "chromium" or os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        if not (build / "manifest.json").is_file():
            pytest.fail(f"{build.relative_to(ROOT)} is missing: run `npm run build` in extension/ "
                        "(make test does)")
        try:
            done = subprocess.run(
                [node, str(RUNNER), "--browser", browser, "--service", base, "--site", site,
                 "--artifacts", str(ARTIFACTS),
                 # The operator's side of reader feedback: the service's feedback folder (this
                 # run's, from tests/conftest.py) and the aside command next to this Python.
                 "--aside", str(Path(sys.executable).with_name("aside")),
                 "--feedback-dir", os.environ["ASIDE_FEEDBACK_DIR"]],
                cwd=EXTENSION, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
            stdout, stderr = done.stdout, done.stderr
        except subprocess.TimeoutExpired as timeout:
            stdout = timeout.stdout.decode() if isinstance(timeout.stdout, bytes) else (timeout.stdout or "")
            stderr = f"the {browser} run took over {RUN_TIMEOUT_S} s"
        # Each scenario's result line (with its detail: counts, screenshots), kept for the record.
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"scenarios-{browser}.jsonl").write_text(stdout, encoding="utf-8")
        results: dict[str, Any] = {"_stderr": stderr[-4000:]}
        for line in stdout.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if "scenario" in record:
                results[record["scenario"]] = record
            elif "launch" in record:
                results["_launch"] = record
        runs[browser] = results
        return results

    return run


@pytest.mark.parametrize("browser", list(BROWSERS))
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_shared(shared_runs: Callable[[str], dict[str, Any]], scenario: str, browser: str) -> None:
    if scenario == "<runner-unavailable>":
        pytest.fail("cannot list the scenarios: node and extension/node_modules are needed (make test)")
    results = shared_runs(browser)
    result = results.get(scenario)
    assert result is not None, (
        f"no result for {scenario} in {browser}; launch: {results.get('_launch')}; "
        f"stderr: {results['_stderr']}")
    assert result["ok"], f"{scenario} in {browser}: {result['detail']}"
