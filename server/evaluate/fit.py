"""Fit the rescoring model on judged news cards: ``aside eval fit-rescorer``.

1. run every dev article through the pipeline with an unfitted model, which keeps the
   candidates the service would score and their features;
2. label the judged ones (helpful = 1; related and wrong = 0);
3. cross-validate a standardised logistic regression (scikit-learn) with folds split by
   article, so that no article is in both training and validation; the field prior (share
   of helpful cards by Factbook field or kind, smoothed) is counted on each fold's training
   articles only; pick the regularisation with the best out-of-fold log loss;
4. rank the dev set with the out-of-fold confidences, exactly as ``aside eval news`` ranks
   it, and choose the least threshold whose cards are at least ``target`` helpful;
5. fit on every judged card and return the model with its features, data and figures.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from index.embed import Embedder
from index.store import Store
from server import pipeline
from server.evaluate.news import Judgments, NewsArticle, Row, card_key, count_row
from server.pipeline.rescore import FEATURES, Rescorer, field_key

__all__ = ["FitReport", "field_priors", "fit_rescorer"]

logger = logging.getLogger(__name__)

KINDS = frozenset({"factbook", "wikipedia"})
# The judged pool: every card with a fused score of at least 0.42, at most 4 a sentence.
FLOOR = 0.42
CANDIDATES = 4
FOLDS = 5
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
# Cards of the overall share a field's own are weighed against (smoothing of rare fields).
PRIOR_WEIGHT = 10
THRESHOLD_GRID = tuple(round(0.20 + 0.025 * i, 3) for i in range(29))


@dataclass
class FitReport:
    model: Rescorer
    rows: int
    positives: int
    cv_rows: list[Row]
    cv_log_loss: float
    cv_auc: float
    chosen_c: float


def fit_rescorer(
    articles: Sequence[NewsArticle], judgments: Judgments, embedder: Embedder, store: Store,
    options: pipeline.Options, *, target: float = 0.80, judgment_files: Sequence[Path] = (),
) -> FitReport:
    """Fit, cross-validate and choose the default threshold; see the module docstring."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    # 1-2. Candidates with features; the judged ones labelled.
    blank = Rescorer.unfitted(kinds=KINDS, floor=FLOOR, candidates=CANDIDATES)
    options = replace(options, rescorer=blank)
    found = [(a, pipeline.candidates(a.request(), embedder, store, options)) for a in articles]
    x_rows, labels, groups, keys = [], [], [], []
    for number, (article, article_found) in enumerate(found):
        for sentence, candidates in article_found.sentences:
            for candidate in candidates:
                if candidate.features is None:
                    continue
                p = candidate.hit.passage
                label = judgments.label(card_key(article.name, sentence.exact, p.title, p.text))
                if label is not None:
                    x_rows.append(candidate.features)
                    labels.append(label == "helpful")
                    groups.append(number)
                    keys.append(field_key(candidate.hit))
    x, y, g = np.asarray(x_rows), np.asarray(labels, dtype=int), np.asarray(groups)
    prior_column = FEATURES.index("field_prior")
    logger.info("%d judged candidates (%d helpful) in %d articles", len(y), y.sum(), len(found))
    # 3. Out-of-fold probabilities by regularisation strength; folds split by article.
    if len(set(g)) < 2 or len(set(y)) < 2:
        raise ValueError("fitting needs judged cards from at least two articles, helpful and not")
    folds = list(GroupKFold(n_splits=min(FOLDS, len(set(g)))).split(x, y, g))
    fold_of_article = {int(a): f for f, (_, test) in enumerate(folds) for a in set(g[test])}

    def make(c: float) -> Any:
        return LogisticRegression(C=c, max_iter=2000)

    fold_priors = [field_priors([keys[i] for i in train], y[train]) for train, _ in folds]

    def with_priors(rows: np.ndarray, row_keys: Sequence[str], priors: tuple[dict[str, float], float]
                    ) -> np.ndarray:
        rows = rows.copy()
        rows[:, prior_column] = [priors[0].get(k, priors[1]) for k in row_keys]
        return rows

    best: tuple[float, float, list[Any]] | None = None
    for c in C_GRID:
        oof = np.zeros(len(y))
        fitted = []
        for (train, test), priors in zip(folds, fold_priors, strict=True):
            x_train = with_priors(x[train], [keys[i] for i in train], priors)
            x_test = with_priors(x[test], [keys[i] for i in test], priors)
            scaler = StandardScaler().fit(x_train)
            model = make(c).fit(scaler.transform(x_train), y[train])
            oof[test] = model.predict_proba(scaler.transform(x_test))[:, 1]
            fitted.append((scaler, model, priors))
        loss = log_loss(y, oof)
        logger.info("C=%g: out-of-fold log loss %.4f, AUC %.4f", c, loss, roc_auc_score(y, oof))
        if best is None or loss < best[1]:
            best = (c, loss, fitted)
            best_oof = oof
    assert best is not None
    chosen_c, cv_loss, fold_models = best
    # 4. The dev set ranked with out-of-fold confidences (each article by the model that
    #    never saw it), at every threshold; the least one at the target precision.
    oof_found = []
    for number, (article, article_found) in enumerate(found):
        scaler, model, priors = fold_models[fold_of_article.get(number, 0)]
        sentences = []
        for sentence, candidates in article_found.sentences:
            rescored = []
            for candidate in candidates:
                if candidate.features is None:
                    rescored.append(candidate)
                    continue
                row = scaler.transform(with_priors(np.asarray([candidate.features]),
                                                   [field_key(candidate.hit)], priors))
                rescored.append(replace(candidate, confidence=float(model.predict_proba(row)[0, 1])))
            sentences.append((sentence, rescored))
        oof_found.append((article, replace(article_found, sentences=sentences)))
    cv_rows = []
    for level in THRESHOLD_GRID:
        cv_rows.append(count_row(oof_found, judgments, replace(options, min_confidence=level), level,
                              False, {}))
    chosen = next((r for r in cv_rows if r.precision >= target and r.shown), cv_rows[-1])
    cv_rows = [replace(r, default=r.threshold == chosen.threshold) for r in cv_rows]
    # 5. The shipped model: fitted on every judged card.
    priors = field_priors(keys, y)
    x_all = with_priors(x, keys, priors)
    scaler = StandardScaler().fit(x_all)
    final = make(chosen_c).fit(scaler.transform(x_all), y)
    meta = {
        "fitted": datetime.date.today().isoformat(),
        "data": [{"file": str(path.name), "sha256": _sha256(path)} for path in judgment_files
                 if path.is_file()],
        "articles": len(found), "rows": int(len(y)), "helpful": int(y.sum()),
        "estimator": f"sklearn LogisticRegression(C={chosen_c}) on standardised features",
        "cv": {"folds": FOLDS, "split": "by article", "log_loss": round(float(cv_loss), 4),
               "auc": round(float(roc_auc_score(y, best_oof)), 4),
               "chosen": chosen.to_dict(), "target_precision": target},
    }
    model = Rescorer(
        features=FEATURES, mean=tuple(scaler.mean_.tolist()), scale=tuple(scaler.scale_.tolist()),
        coef=tuple(final.coef_[0].tolist()), intercept=float(final.intercept_[0]), kinds=KINDS,
        floor=FLOOR, candidates=CANDIDATES, min_confidence=chosen.threshold,
        priors=priors[0], prior=priors[1], meta=meta, countries=blank.countries,
    )
    return FitReport(model=model, rows=len(y), positives=int(y.sum()), cv_rows=cv_rows,
                     cv_log_loss=float(cv_loss), cv_auc=float(roc_auc_score(y, best_oof)),
                     chosen_c=chosen_c)


def field_priors(keys: Sequence[str], labels: np.ndarray) -> tuple[dict[str, float], float]:
    """Share of helpful cards by field, pulled towards the overall share by PRIOR_WEIGHT cards.

    Returns the table (fields seen at least once) and the overall share (for unseen fields).
    """
    overall = float(labels.mean()) if len(labels) else 0.0
    seen: dict[str, list[int]] = {}
    for key, label in zip(keys, labels, strict=True):
        seen.setdefault(key, []).append(int(label))
    table = {key: round((sum(v) + PRIOR_WEIGHT * overall) / (len(v) + PRIOR_WEIGHT), 4)
             for key, v in seen.items()}
    return table, round(overall, 4)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

