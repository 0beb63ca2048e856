"""Fine-tune the embedder on a benchmark's own train split, for evaluation only.

The issue allows it inside the evaluation, never on the split being reported.
The weights are derived from research-only data: they stay in the evaluation
cache (``var/eval/models``, ignored by git), and the service never loads them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from index.embedders import SentenceTransformerEmbedder, packaged_model_path

__all__ = ["fine_tune"]

logger = logging.getLogger(__name__)

EPOCHS = 3
LEARNING_RATE = 3e-5
BATCH = 32
SCALE = 20.0  # sentence-transformers' MultipleNegativesRankingLoss default


def fine_tune(pairs: Sequence[tuple[str, str]], cache_dir: Path, *, seed: int = 0) -> Path:
    """Train on (query, relevant document) pairs with in-batch negatives; return the model folder.

    The folder is cached by the pairs and the training settings.
    """
    if not pairs:
        raise ValueError("the dataset has no train split to fine-tune on")
    key = hashlib.sha256(
        json.dumps([sorted(pairs), EPOCHS, LEARNING_RATE, BATCH, SCALE, seed]).encode()
    ).hexdigest()[:12]
    out = cache_dir / f"tuned-{key}"
    if (out / "modules.json").is_file():
        return out
    import torch

    model = SentenceTransformerEmbedder(packaged_model_path()).load()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    examples = list(pairs)
    started = time.perf_counter()
    model.train()
    for epoch in range(EPOCHS):
        rng.shuffle(examples)
        for start in range(0, len(examples), BATCH):
            batch = examples[start : start + BATCH]
            queries = _embed(model, [q for q, _ in batch])
            documents = _embed(model, [d for _, d in batch])
            # Each query's own document is its positive; the batch's others are negatives.
            loss = torch.nn.functional.cross_entropy(
                SCALE * queries @ documents.T, torch.arange(len(batch))
            )
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        logger.info("fine-tuning: epoch %d of %d done", epoch + 1, EPOCHS)
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    logger.info("fine-tuned on %d pairs in %.0fs -> %s", len(examples),
                time.perf_counter() - started, out)
    return out


def _embed(model: Any, texts: list[str]) -> Any:
    import torch

    features = model.preprocess(texts) if hasattr(model, "preprocess") else model.tokenize(texts)
    return torch.nn.functional.normalize(model(dict(features))["sentence_embedding"], dim=-1)
