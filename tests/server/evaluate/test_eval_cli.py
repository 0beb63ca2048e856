from __future__ import annotations

import gzip
import json

import pytest

from server.cli import main
from server.evaluate import load_checkthat, load_climate_fever, load_scifact

CLAIMS = [
    {"vclaim_id": "1", "vclaim": "The Golden Gate Bridge opened to traffic in May 1937.",
     "title": "Did the Golden Gate Bridge open in 1937?", "subtitle": "San Francisco landmark"},
    {"vclaim_id": "2", "vclaim": "Wheat harvests in Kansas fell after a dry spring.",
     "title": "Kansas wheat harvest", "subtitle": "Drought"},
    {"vclaim_id": "3", "vclaim": "The Federal Reserve raised interest rates in July 2023.",
     "title": "Fed rate hike", "subtitle": "Monetary policy"},
]
QUERIES = [
    {"query_id": "q1", "text": "Golden Gate Bridge opened 1937! https://t.co/xyz — Jo (@jo) May 1, 2020"},
    {"query_id": "q2", "text": "kansas wheat harvest fell after the dry spring #farming"},
    {"query_id": "q3", "text": "Federal Reserve interest rates raised July"},
]


@pytest.fixture
def checkthat_dir(tmp_path):
    folder = tmp_path / "ct"
    folder.mkdir()
    with gzip.open(folder / "vclaims.jsonl.gz", "wt") as out:
        out.writelines(json.dumps(c) + "\n" for c in CLAIMS)
    (folder / "queries_test.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES))
    (folder / "qrels_test.tsv").write_text("q1\t0\t1\t1\nq2\t0\t2\t1\nq3\t0\t3\t1\n")
    return folder


def test_checkthat_table_json_and_run_file(runner, fake_embedder, checkthat_dir, tmp_path):
    args = ["eval", "checkthat", "--data-dir", str(checkthat_dir), "--cache-dir", str(tmp_path / "c")]
    table = runner.invoke(main, args, obj={"embedder": fake_embedder}, catch_exceptions=False)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].startswith("CheckThat! ct, test: 3 queries, 3 documents")
    assert [line.split()[0] for line in lines[2:5]] == ["BM25", "dense", "Aside"]
    run = tmp_path / "run.txt"
    answer = runner.invoke(main, args + ["--json", "--run-out", str(run)],
                           obj={"embedder": fake_embedder}, catch_exceptions=False)
    result = json.loads(answer.output)
    assert set(result["scores"]) == {"bm25", "dense", "aside"}
    assert result["scores"]["aside"]["MAP@5"] == 1.0
    rows = [line.split() for line in run.read_text().splitlines()]
    assert rows[0][:4] == ["q1", "Q0", "1", "1"] and rows[0][5] == "aside"
    assert len(rows) == 9 and all(len(r) == 6 for r in rows)
    # The index is cached: a second run builds nothing.
    assert len(list((tmp_path / "c").iterdir())) == 1


def test_missing_dataset_is_a_clear_error(runner, fake_embedder, tmp_path):
    result = runner.invoke(main, ["eval", "scifact", "--data-dir", str(tmp_path)],
                           obj={"embedder": fake_embedder})
    assert result.exit_code == 1 and "missing" in result.output and "corpus.jsonl.gz" in result.output


def test_loaders_read_the_shared_formats(tmp_path):
    sci = tmp_path / "sci"
    sci.mkdir()
    with gzip.open(sci / "corpus.jsonl.gz", "wt") as out:
        out.write(json.dumps({"doc_id": 7, "title": "T", "abstract": ["One.", "Two."]}) + "\n")
    (sci / "claims_dev.jsonl").write_text(json.dumps({"id": 1, "claim": "C"}) + "\n")
    (sci / "qrels_dev_beir_style.tsv").write_text("query-id\tcorpus-id\tscore\n1\t7\t1\n")
    dataset = load_scifact(sci)
    assert dataset.qrels == {"1": {"7": 1}} and dataset.queries == {"1": "C"}
    (record,) = dataset.records()
    assert record.doc_id == "7" and record.text == "One. Two." and record.context == "T"

    cf = tmp_path / "cf"
    cf.mkdir()
    claim = {"claim_id": "0", "claim": "Warming", "evidences": [
        {"evidence_id": "A:1", "evidence_label": "SUPPORTS", "article": "A", "evidence": "E1"},
        {"evidence_id": "B:2", "evidence_label": "NOT_ENOUGH_INFO", "article": "B", "evidence": "E2"}]}
    with gzip.open(cf / "climate-fever.jsonl.gz", "wt") as out:
        out.write(json.dumps(claim) + "\n")
    dataset = load_climate_fever(cf)
    assert dataset.qrels == {"0": {"A:1": 1}}
    assert sorted(r.doc_id for r in dataset.records()) == ["A:1", "B:2"]


def test_checkthat_fields_and_2021_restriction(checkthat_dir):
    (checkthat_dir / "queries_dev_test.jsonl").write_text(json.dumps(QUERIES[0]) + "\n")
    (checkthat_dir / "qrels_dev_test.tsv").write_text("q1\t0\t1\t1\n")
    (checkthat_dir / "vclaim_ids_ct2021.txt").write_text("1\n3\n")
    dataset = load_checkthat(checkthat_dir, "dev_test")
    records = list(dataset.records())
    assert [r.doc_id for r in records] == ["1", "3"]
    assert records[0].context == "Did the Golden Gate Bridge open in 1937? — San Francisco landmark"
    assert records[0].text == CLAIMS[0]["vclaim"]
