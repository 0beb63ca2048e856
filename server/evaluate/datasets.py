"""The public benchmarks ``aside eval`` knows, read from ``$ASIDE_DATA_DIR`` (never shipped).

Each dataset is a collection (turned into ordinary source records, so it is
indexed exactly like operator documents), queries and relevance judgements.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from index.records import SourceRecord

__all__ = ["Dataset", "load_checkthat", "load_climate_fever", "load_scifact"]

Qrels = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Dataset:
    """A collection, its queries and judgements; ``metrics`` lists what is reported."""

    name: str
    label: str
    records: Callable[[], Iterator[SourceRecord]]
    queries: dict[str, str]
    qrels: Qrels
    metrics: tuple[str, ...]
    fingerprint: str
    # Names the collection (not the split), so every split shares one cached index.
    collection: str
    # Passages fetched per query, so that enough distinct documents remain.
    depth: int = 100
    # (query, relevant document text) pairs of the folder's train split, read on demand.
    train_pairs: Callable[[], list[tuple[str, str]]] = list


def _fingerprint(*paths: Path, extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _require(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"missing {path}")
    return path


def _read_qrels(path: Path) -> Qrels:
    qrels: Qrels = {}
    for line in _require(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3].lstrip("-").isdigit():  # TREC: qid 0 docid grade
            qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
        elif len(parts) == 3 and parts[2].isdigit():  # BEIR: query-id corpus-id score
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def _jsonl(path: Path) -> Iterator[dict]:  # type: ignore[type-arg]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(_require(path), "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _fact_check_record(claim: dict) -> SourceRecord:  # type: ignore[type-arg]
    # The claim is what a card shows; title and subtitle help match it (issue 4).
    context = " — ".join(x for x in (claim.get("title"), claim.get("subtitle")) if x)
    return SourceRecord(
        doc_id=str(claim["vclaim_id"]),
        text=str(claim["vclaim"]),
        source="eval",
        kind="fact-check",
        title=claim.get("title"),
        published=claim.get("date"),
        context=context or None,
    )


def load_checkthat(data_dir: Path, split: str) -> Dataset:
    """CLEF CheckThat! claim retrieval: 2020 Task 2 or 2022 Task 2A (English)."""
    collection = _require(data_dir / "vclaims.jsonl.gz")
    queries_path = _require(data_dir / f"queries_{split}.jsonl")
    qrels_path = _require(data_dir / f"qrels_{split}.tsv")
    # The 2021 test set (2022's dev_test) was judged against the 2021 collection.
    allowed_path = data_dir / "vclaim_ids_ct2021.txt"
    allowed = None
    if split == "dev_test" and allowed_path.is_file():
        allowed = set(allowed_path.read_text(encoding="utf-8").split())

    def records() -> Iterator[SourceRecord]:
        for claim in _jsonl(collection):
            if allowed is None or str(claim["vclaim_id"]) in allowed:
                yield _fact_check_record(claim)

    queries = {str(q["query_id"]): str(q["text"]) for q in _jsonl(queries_path)}
    train_q, train_r = data_dir / "queries_train.jsonl", data_dir / "qrels_train.tsv"

    def train_pairs() -> list[tuple[str, str]]:
        # Read only when asked for (--train): the collection is read again to pair texts.
        if split == "train" or not (train_q.is_file() and train_r.is_file()):
            return []
        texts = {str(q["query_id"]): str(q["text"]) for q in _jsonl(train_q)}
        claims = {str(c["vclaim_id"]): c for c in _jsonl(collection)}
        pairs = []
        for qid, judged in _read_qrels(train_r).items():
            for doc, grade in judged.items():
                if grade > 0 and qid in texts and doc in claims:
                    record = _fact_check_record(claims[doc])
                    pairs.append((texts[qid], f"{record.context}: {record.text}"))
        return pairs

    fingerprint_paths = [collection] + ([allowed_path] if allowed is not None else [])
    return Dataset(
        name=f"{data_dir.name}-{split}" + ("-ct2021" if allowed is not None else ""),
        label=f"CheckThat! {data_dir.name}, {split}",
        records=records,
        queries=queries,
        qrels=_read_qrels(qrels_path),
        metrics=("MAP@5", "MRR", "P@1"),
        fingerprint=_fingerprint(*fingerprint_paths),
        collection=data_dir.name + ("-ct2021" if allowed is not None else ""),
        train_pairs=train_pairs,
    )


def load_scifact(data_dir: Path) -> Dataset:
    """SciFact: dev claims against the 5,183 abstracts."""
    corpus = _require(data_dir / "corpus.jsonl.gz")

    def records() -> Iterator[SourceRecord]:
        for doc in _jsonl(corpus):
            abstract = doc["abstract"]
            text = " ".join(abstract) if isinstance(abstract, list) else str(abstract)
            yield SourceRecord(doc_id=str(doc["doc_id"]), text=text, source="eval", kind="paper",
                               title=doc.get("title"), context=doc.get("title"))

    queries = {str(c["id"]): str(c["claim"]) for c in _jsonl(data_dir / "claims_dev.jsonl")}
    qrels = _read_qrels(data_dir / "qrels_dev_beir_style.tsv")
    return Dataset(
        name="scifact-dev", label="SciFact, dev", records=records,
        queries={q: t for q, t in queries.items() if q in qrels}, qrels=qrels,
        metrics=("nDCG@10", "Recall@100"), fingerprint=_fingerprint(corpus),
        collection="scifact", depth=400,
    )


def load_climate_fever(data_dir: Path) -> Dataset:
    """Climate-FEVER: each claim ranks its evidence sentences within the pool of all of them."""
    path = _require(data_dir / "climate-fever.jsonl.gz")
    claims = list(_jsonl(path))
    pool: dict[str, dict] = {}  # type: ignore[type-arg]
    qrels: Qrels = {}
    for claim in claims:
        for evidence in claim["evidences"]:
            pool.setdefault(str(evidence["evidence_id"]), evidence)
            if evidence["evidence_label"] in ("SUPPORTS", "REFUTES"):
                qrels.setdefault(str(claim["claim_id"]), {})[str(evidence["evidence_id"])] = 1

    def records() -> Iterator[SourceRecord]:
        for evidence_id, evidence in pool.items():
            yield SourceRecord(doc_id=evidence_id, text=str(evidence["evidence"]), source="eval",
                               kind="encyclopedia", title=evidence.get("article"),
                               context=evidence.get("article"))

    return Dataset(
        name="climate-fever", label="Climate-FEVER (evidence pool)", records=records,
        queries={str(c["claim_id"]): str(c["claim"]) for c in claims if str(c["claim_id"]) in qrels},
        qrels=qrels, metrics=("MRR", "Recall@5"), fingerprint=_fingerprint(path),
        collection="climate-fever",
    )
