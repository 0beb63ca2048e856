"""Settings of the index package: one registry drives parsing, checks, defaults, CLI help and docs.

Each setting is read from the environment as ``ASIDE_<NAME>`` into a frozen settings object,
built once per process (``load``); later mappings keyed by NAME (a test config, a command's
options) override the environment. ``server.settings`` extends the registry and the object.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import click

from index.embedders import BACKENDS

__all__ = ["BY_NAME", "ENV_PREFIX", "REPO_ROOT", "SETTINGS", "IndexSettings", "Setting", "load",
           "markdown_table", "option_from", "read_settings"]

ENV_PREFIX = "ASIDE_"
REPO_ROOT = Path(__file__).resolve().parent.parent

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_S = TypeVar("_S")


@dataclass(frozen=True)
class Setting:
    """One operator setting, read from the environment as ``ASIDE_<name>``.

    ``kind`` is str, int, float, bool, Path or tuple (comma-separated text, or a JSON list;
    ``parse_item`` checks and normalises each item). ``minimum``/``maximum`` are inclusive,
    ``above`` exclusive; ``optional`` makes empty text mean None.
    """

    name: str
    default: object
    help: str
    _: KW_ONLY
    kind: type = str
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False
    parse_item: Callable[[str], str] | None = None
    allowed: str = ""

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name

    @property
    def attr(self) -> str:
        """The settings object's attribute for it: the name in snake_case."""
        return self.name.lower()

    def describe(self) -> str:
        """What the value may be, in words (for error messages and the docs)."""
        if self.allowed:
            words = self.allowed
        elif self.choices:
            words = "one of " + ", ".join(self.choices)
        elif self.kind is bool:
            words = "true or false"
        elif self.kind in (int, float):
            words = _bounds("an integer" if self.kind is int else "a number",
                            self.minimum, self.maximum, self.above)
        elif self.kind is Path:
            words = "a path"
        else:
            words = "text"
        return f"{words}, or empty" if self.optional else words

    def convert(self, value: object) -> Any:
        """The checked value from environment text or a typed value; ValueError names the variable."""
        try:
            return self._convert(value)
        except (ValueError, TypeError):
            raise ValueError(f"{self.env} must be {self.describe()}, got {value!r}") from None

    def _convert(self, value: object) -> Any:
        if self.optional and (value is None or value == ""):
            return None
        if self.kind is tuple:
            return self._items(value)
        if self.kind is bool:
            return _boolean(value)
        if self.kind in (int, float):
            return self._number(value)
        if self.kind is Path:
            if not isinstance(value, str | Path):
                raise TypeError(value)
            return Path(value)
        if not isinstance(value, str):
            raise TypeError(value)
        if self.choices and value not in self.choices:
            raise ValueError(value)
        return value

    def _number(self, value: object) -> int | float:
        number: int | float
        if isinstance(value, str):
            number = int(value) if self.kind is int else float(value)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(value)
        elif self.kind is int and not isinstance(value, int):
            raise TypeError(value)
        else:
            number = value if self.kind is int else float(value)
        if not math.isfinite(number):  # nan passes every bound check; inf overflows timers
            raise ValueError(value)
        if ((self.minimum is not None and number < self.minimum)
                or (self.maximum is not None and number > self.maximum)
                or (self.above is not None and number <= self.above)):
            raise ValueError(value)
        return number

    def _items(self, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            # A JSON list too, for an item holding a comma (a regular expression's {1,3}).
            value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise TypeError(value)
        items = [v.strip() for v in value if v.strip()]
        return tuple(self.parse_item(v) if self.parse_item else v for v in items)


def _bounds(kind: str, low: float | None, high: float | None, above: float | None) -> str:
    if low is not None and high is not None:
        return f"{kind} from {low:g} to {high:g}"
    if above is not None:
        return f"{kind} > {above:g}"
    return f"{kind} >= {low:g}" if low is not None else kind


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(value)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        name="INDEX_DIR", default=REPO_ROOT / "var" / "index", kind=Path,
        help="Directory of the index store that the service and CLI read by default.",
    ),
    Setting(
        name="MODEL_PATH", default="",
        help="Directory of a sentence-transformers model; empty means the packaged all-MiniLM-L6-v2.",
    ),
    Setting(
        name="DATA_DIR", default=None, kind=Path, optional=True,
        help="Folder of the public evaluation datasets read by `aside eval`, the quality tests and "
        "the benches; no default (`make test` sets it to `../shared/data` beside the checkout).",
    ),
    Setting(
        name="EMBED_BACKEND", default="auto", choices=BACKENDS,
        help="How sentences are embedded: `torch` (sentence-transformers), `onnx` or `openvino` (the "
        "model exported by `aside model export`, run with onnxruntime, or with OpenVINO in bfloat16 "
        "where the CPU has it) or `auto` (the export when there is one, with OpenVINO or else "
        "onnxruntime; torch otherwise). It applies to `aside index build|update` too: there `auto` "
        "takes the export with onnxruntime (fastest on long passages) when it is current and passes "
        "its vector check, and otherwise torch, with a warning saying why.",
    ),
    Setting(
        name="ONNX_DIR", default=REPO_ROOT / "var" / "model-onnx", kind=Path,
        help="Where `aside model export` writes the ONNX model and the onnx backend reads it.",
    ),
    Setting(
        name="TORCH_THREADS", default=0, kind=int, minimum=0,
        help="Threads torch uses to embed; 0 means all cores (size threads x workers to the cores).",
    ),
    Setting(
        name="FETCH_PRIVATE", default=False, kind=bool,
        help="Let `feed:`, `html:` and `claimreview:` URLs reach loopback and private addresses "
        "(10/8, 172.16/12, 192.168/16, fc00::/7), for an intranet; link-local, multicast and "
        "reserved addresses are refused always.",
    ),
    Setting(
        name="FETCH_CONNECT_TIMEOUT", default=10.0, kind=float, above=0, maximum=600,
        help="Seconds a fetch may wait to connect to a server.",
    ),
    Setting(
        name="FETCH_DEADLINE", default=60.0, kind=float, above=0, maximum=3600,
        help="Seconds a whole fetch may take (connect, redirects, headers and body together).",
    ),
    Setting(
        name="FETCH_MAX_BYTES", default=20 * 1024 * 1024, kind=int, minimum=1024,
        help="Bytes a fetched body may hold once decompressed; a larger one is cut and skipped.",
    ),
    Setting(
        name="EXPAND_MAX_RATIO", default=100, kind=int, minimum=2,
        help="How many times its own size a compressed dump (`.bz2`, `.gz`) may expand to "
        "(plus 16 MiB); past it the rest of the file is skipped as a likely bomb.",
    ),
    Setting(
        name="PAGE_MAX_BYTES", default=16 * 1024 * 1024, kind=int, minimum=1024,
        help="Bytes of XML one page of a MediaWiki dump may take; past it the dump's reading "
        "stops there with the reason (the pages before are kept).",
    ),
)

BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class IndexSettings:
    """The index package's settings, checked; one attribute per setting in ``SETTINGS``."""

    index_dir: Path
    model_path: str
    data_dir: Path | None
    embed_backend: str
    onnx_dir: Path
    torch_threads: int
    fetch_private: bool
    fetch_connect_timeout: float
    fetch_deadline: float
    fetch_max_bytes: int
    expand_max_ratio: int
    page_max_bytes: int

    def to_config(self) -> dict[str, Any]:
        """``{NAME: value}``, as Flask's ``app.config`` holds them (paths as text)."""
        values = {f.name.upper(): getattr(self, f.name) for f in fields(self)}
        return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


def read_settings(cls: type[_S], registry: Sequence[Setting], environ: Mapping[str, str],
                  *overrides: Mapping[str, Any]) -> _S:
    """Build ``cls`` from the defaults, then ``environ``, then each override mapping (by NAME).

    Raises ValueError naming the variable and what it allows when a value is wrong.
    """
    values: dict[str, Any] = {}
    for setting in registry:
        value: object = environ.get(setting.env, setting.default)
        for mapping in overrides:
            value = mapping.get(setting.name, value)
        values[setting.attr] = setting.convert(value)
    return cls(**values)


def load(environ: Mapping[str, str], *overrides: Mapping[str, Any]) -> IndexSettings:
    """The index settings from ``ASIDE_*`` in ``environ``, then ``overrides``; ValueError if wrong."""
    return read_settings(IndexSettings, SETTINGS, environ, *overrides)


def option_from(setting: Setting, *decls: str, **attrs: Any) -> Callable[[Any], Any]:
    """A click option whose env var, default, type and help come from ``setting``.

    ``attrs`` go to ``click.option`` and win (a command's own ``help`` or ``type``).
    """
    attrs.setdefault("type", _click_type(setting))
    attrs.setdefault("help", setting.help)
    return click.option(*decls, envvar=setting.env, show_envvar=True, default=setting.default,
                        show_default=setting.default not in (None, ""), **attrs)


def _click_type(setting: Setting) -> click.ParamType[Any, Any]:
    if setting.choices:
        return click.Choice(setting.choices)
    if setting.kind is int:
        low, high = setting.minimum, setting.maximum
        return click.IntRange(None if low is None else int(low), None if high is None else int(high))
    if setting.kind is float:
        return click.FloatRange(setting.above if setting.above is not None else setting.minimum,
                                setting.maximum, min_open=setting.above is not None)
    if setting.kind is Path:
        return click.Path(path_type=Path)
    return click.BOOL if setting.kind is bool else click.STRING


def markdown_table(registry: Sequence[Setting] = SETTINGS) -> str:
    """The settings as a Markdown table: variable, default, allowed values, what it does."""
    rows = ["| variable | default | allowed | what it does |", "| --- | --- | --- | --- |"]
    for s in registry:
        rows.append(f"| `{s.env}` | {_cell(_shown_default(s.default))} | {s.describe()} | {s.help} |")
    return "\n".join(rows)


def _shown_default(default: object) -> str:
    if isinstance(default, Path) and default.is_relative_to(REPO_ROOT):
        return f"(repository)/{default.relative_to(REPO_ROOT).as_posix()}"
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, tuple):
        return ",".join(default)
    return "" if default is None else str(default)


def _cell(text: str) -> str:
    escaped = text.replace("|", "\\|")
    return f"`{escaped}`" if text else "(empty)"
