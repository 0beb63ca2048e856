"""The pipeline and the evaluation run without Flask, and answer as the API does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from index.store import Store
from server.evaluate import Dataset, evaluate
from tests.server.helpers import post

ROOT = Path(__file__).resolve().parents[2]
SENTENCE = "The #FederalReserve raised its benchmark interest rate by a quarter point in July 2023."

# Run in a fresh interpreter where Flask, flask-cors and Werkzeug cannot be imported: any
# import of them on the way to the answer fails the run.
WITHOUT_FLASK = """
import json, sys
from pathlib import Path
for name in ("flask", "flask_cors", "werkzeug"):
    sys.modules[name] = None
try:
    import flask
except ImportError:
    pass
else:
    raise SystemExit("flask is still importable")
from index.store import Store
from server import pipeline
from server.evaluate import Dataset, cli, evaluate, fit, news
from server.resources import load_resources
from server.schema import Block, ContextRequest
from tests.conftest import FakeEmbedder

store, sentence = Store.open(Path(sys.argv[1])), sys.argv[2]
options = pipeline.Options(threshold=0.3, cards_per_sentence=3, max_sentences=50)
result = pipeline.run(ContextRequest(blocks=(Block("p1", sentence),)), FakeEmbedder(), store, options)
dataset = Dataset(name="one", label="one", records=lambda: iter(()), queries={"q": sentence},
                  qrels={"q": {"x": 1}}, metrics=("MRR",), fingerprint="one", collection="tiny")
run = evaluate(dataset, FakeEmbedder(), store, systems=("aside",)).runs["aside"]["q"]
print(json.dumps({"cards": [[s.exact, [c.url for c in cards]] for s, cards in result.sentences],
                  "eval": run[0][0]}))
"""


def test_the_pipeline_and_the_evaluation_import_and_run_without_flask(tiny_store):
    done = subprocess.run([sys.executable, "-c", WITHOUT_FLASK, str(tiny_store), SENTENCE],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    [[exact, urls]] = answer["cards"]
    assert exact == SENTENCE and urls[0] == "https://example.org/fed"
    assert answer["eval"] == "jsonl:docs:fed-rate"


def test_the_evaluation_and_the_api_give_the_same_top_card(tiny_store, fake_embedder):
    from server import create_app

    store = Store.open(tiny_store)
    dataset = Dataset(name="one", label="one sentence", records=lambda: iter(()),
                      queries={"q": SENTENCE}, qrels={"q": {"jsonl:docs:fed-rate": 1}}, metrics=("MRR",),
                      fingerprint="one", collection="tiny", depth=12)
    [(doc_id, score), *_] = evaluate(dataset, fake_embedder, store, systems=("aside",)).runs["aside"]["q"]
    # Rescoring off: the benchmarks rank by the fused score, as the service then does.
    app = create_app({"TESTING": True, "INDEX_DIR": str(tiny_store), "EMBEDDER": fake_embedder,
                      "THRESHOLD": 0.0, "RESCORE_MODEL": "off", "RATE_LIMIT_PER_ADDRESS": ""})
    answer = post(app.test_client(), {"blocks": [{"id": "p1", "text": SENTENCE}]}).get_json()
    [sentence] = answer["sentences"]
    top = sentence["cards"][0]
    assert sentence["exact"] == SENTENCE
    assert store.passages([int(top["id"])])[int(top["id"])].doc_id == doc_id == "jsonl:docs:fed-rate"
    assert top["score"] == round(score, 4)
