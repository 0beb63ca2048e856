"""Settings of the index package: one registry drives defaults, CLI help and the README."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENV_PREFIX", "SETTINGS", "Setting", "default_index_dir", "get"]

ENV_PREFIX = "ASIDE_"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    """One operator setting, read from the environment as ``ASIDE_<name>``."""

    name: str
    default: object
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "INDEX_DIR",
        str(REPO_ROOT / "var" / "index"),
        "Directory of the index store that the service and CLI read by default.",
    ),
    Setting(
        "MODEL_PATH",
        "",
        "Directory of a sentence-transformers model; empty means the packaged all-MiniLM-L6-v2.",
    ),
    Setting(
        "DATA_DIR",
        str(REPO_ROOT.parent / "shared" / "data"),
        "Folder of the public evaluation datasets read by `aside eval` and the quality tests.",
    ),
    Setting(
        "EMBED_BACKEND",
        "auto",
        "How sentences are embedded: `torch` (sentence-transformers), `onnx` or `openvino` (the "
        "model exported by `aside model export`, run with onnxruntime, or with OpenVINO in bfloat16 "
        "where the CPU has it) or `auto` (the export when there is one, with OpenVINO or else "
        "onnxruntime; torch otherwise).",
    ),
    Setting(
        "ONNX_DIR",
        str(REPO_ROOT / "var" / "model-onnx"),
        "Where `aside model export` writes the ONNX model and the onnx backend reads it.",
    ),
    Setting(
        "TORCH_THREADS",
        0,
        "Threads torch uses to embed; 0 means all cores (size threads x workers to the cores).",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str) -> str:
    """Return the setting's value from the environment, or its default, as text."""
    setting = _BY_NAME[name]
    return os.environ.get(setting.env, str(setting.default))


def default_index_dir() -> Path:
    """The index directory named by ``ASIDE_INDEX_DIR``, else ``var/index`` in the repository."""
    return Path(get("INDEX_DIR"))
