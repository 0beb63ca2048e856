"""Aside's index: sources -> passages -> embeddings -> a FAISS + SQLite store on disk."""

from __future__ import annotations

from index.build import BuildError, BuildOptions, BuildReport, build, remove, update
from index.embedders import Embedder, SentenceTransformerEmbedder
from index.records import Passage, SourceRecord
from index.search import Hit, SearchOptions, search_texts
from index.store import Manifest, Store, StoreError, StoreMismatchError

__all__ = [
    "BuildError",
    "BuildOptions",
    "BuildReport",
    "Embedder",
    "Hit",
    "Manifest",
    "Passage",
    "SentenceTransformerEmbedder",
    "SourceRecord",
    "Store",
    "StoreError",
    "StoreMismatchError",
    "SearchOptions",
    "build",
    "remove",
    "search_texts",
    "update",
]
