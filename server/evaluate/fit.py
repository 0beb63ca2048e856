"""Fit the rescoring model on judged news cards: ``aside eval fit-rescorer``.

1. run every dev article through the pipeline with an unfitted model, which keeps the
   candidates the service would score and their features;
2. label the judged ones (helpful = 1; related and wrong = 0);
3. cross-validate a standardised logistic regression (scikit-learn) with folds split by
   article, so that no article is in both training and validation; the field prior (share
   of helpful cards by Factbook field or kind, smoothed) is counted on each fold's training
   articles only; pick the regularisation with the best out-of-fold log loss;
4. rank the dev set with the out-of-fold confidences, exactly as ``aside eval news`` ranks
   it, pooled over five shuffled splits, and choose the least threshold whose cards are at
   least ``target`` helpful;
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

from index.embedders import Embedder
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
REPEATS = 5
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
    # cv_rows pool this many repeated splits of the dev set.
    repeats: int = 1


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
    logger.info("%d judged candidates (%d helpful) in %d articles", len(y), y.sum(), len(found))
    # 3. Out-of-fold probabilities by regularisation strength; folds split by article, the
    #    split repeated REPEATS times (articles shuffled) so that one lucky split decides nothing.
    if len(set(g)) < 2 or len(set(y)) < 2:
        raise ValueError("fitting needs judged cards from at least two articles, helpful and not")
    splits = min(FOLDS, len(set(g)))
    repeats = [list(GroupKFold(n_splits=splits, shuffle=True, random_state=seed).split(x, y, g))
               for seed in range(REPEATS)]

    def make(c: float) -> Any:
        return LogisticRegression(C=c, max_iter=2000)

    def cross_validate(c: float, folds: list[Any]) -> tuple[np.ndarray, list[Any]]:
        oof, fitted = np.zeros(len(y)), []
        for train, test in folds:
            priors = field_priors([keys[i] for i in train], y[train])
            x_train = _with_priors(x[train], [keys[i] for i in train], priors)
            scaler = StandardScaler().fit(x_train)
            model = make(c).fit(scaler.transform(x_train), y[train])
            oof[test] = model.predict_proba(
                scaler.transform(_with_priors(x[test], [keys[i] for i in test], priors)))[:, 1]
            fitted.append((scaler, model, priors, {int(a) for a in set(g[test])}))
        return oof, fitted

    best: tuple[float, float, float, list[list[Any]]] | None = None
    for c in C_GRID:
        runs = [cross_validate(c, folds) for folds in repeats]
        loss = float(np.mean([log_loss(y, oof) for oof, _ in runs]))
        auc = float(np.mean([roc_auc_score(y, oof) for oof, _ in runs]))
        logger.info("C=%g: out-of-fold log loss %.4f, AUC %.4f (mean of %d splits)", c, loss, auc,
                    REPEATS)
        if best is None or loss < best[1]:
            best = (c, loss, auc, [fitted for _, fitted in runs])
    assert best is not None
    chosen_c, cv_loss, cv_auc, fold_models = best
    # 4. The dev set ranked with out-of-fold confidences (each article by the model that
    #    never saw it), at every threshold, cards counted over all the repeated splits; the
    #    least threshold at the target precision.
    totals: dict[float, Row] = {}
    for fitted in fold_models:
        oof_found = [(article, _rescored(article_found, number, fitted))
                     for number, (article, article_found) in enumerate(found)]
        for level in THRESHOLD_GRID:
            row = count_row(oof_found, judgments, replace(options, min_confidence=level), level,
                            False, {})
            totals[level] = _add(totals[level], row) if level in totals else row
    cv_rows = [totals[level] for level in THRESHOLD_GRID]
    chosen = next((r for r in cv_rows if r.precision >= target and r.shown), cv_rows[-1])
    cv_rows = [replace(r, default=r.threshold == chosen.threshold) for r in cv_rows]
    # 5. The shipped model: fitted on every judged card.
    priors = field_priors(keys, y)
    x_all = _with_priors(x, keys, priors)
    scaler = StandardScaler().fit(x_all)
    final = make(chosen_c).fit(scaler.transform(x_all), y)
    meta = {
        "fitted": datetime.date.today().isoformat(),
        "data": [{"file": str(path.name), "sha256": _sha256(path)} for path in judgment_files
                 if path.is_file()],
        "articles": len(found), "rows": int(len(y)), "helpful": int(y.sum()),
        "estimator": f"sklearn LogisticRegression(C={chosen_c}) on standardised features",
        "cv": {"folds": FOLDS, "split": "by article", "log_loss": round(float(cv_loss), 4),
               "auc": round(cv_auc, 4), "repeats": REPEATS,
               "chosen": chosen.to_dict(), "target_precision": target},
    }
    model = Rescorer(
        features=FEATURES, mean=tuple(scaler.mean_.tolist()), scale=tuple(scaler.scale_.tolist()),
        coef=tuple(final.coef_[0].tolist()), intercept=float(final.intercept_[0]), kinds=KINDS,
        floor=FLOOR, candidates=CANDIDATES, min_confidence=chosen.threshold,
        priors=priors[0], prior=priors[1], meta=meta, countries=blank.countries,
    )
    return FitReport(model=model, rows=len(y), positives=int(y.sum()), cv_rows=cv_rows,
                     cv_log_loss=float(cv_loss), cv_auc=cv_auc,
                     chosen_c=chosen_c, repeats=REPEATS)


def _rescored(found: pipeline.Found, number: int, fitted: list[Any]) -> pipeline.Found:
    """An article's candidates with the confidence of the fold model that never saw it."""
    scaler, model, priors = next(((s, m, p) for s, m, p, held in fitted if number in held),
                                 fitted[0][:3])
    sentences = []
    for sentence, candidates in found.sentences:
        rescored = []
        for candidate in candidates:
            if candidate.features is not None:
                row = scaler.transform(_with_priors(np.asarray([candidate.features]),
                                                   [field_key(candidate.hit)], priors))
                candidate = replace(candidate, confidence=float(model.predict_proba(row)[0, 1]))
            rescored.append(candidate)
        sentences.append((sentence, rescored))
    return replace(found, sentences=sentences)


def _with_priors(rows: np.ndarray, keys: Sequence[str], priors: tuple[dict[str, float], float]
                 ) -> np.ndarray:
    """Feature rows with their field prior column filled from a table of field shares."""
    rows = rows.copy()
    rows[:, FEATURES.index("field_prior")] = [priors[0].get(k, priors[1]) for k in keys]
    return rows


def _add(a: Row, b: Row) -> Row:
    """Counts of two rankings of the dev set added, so their shares are pooled."""
    return replace(a, **{name: getattr(a, name) + getattr(b, name) for name in (
        "searched", "shown", "helpful", "related", "wrong", "unjudged", "sentences_helped",
        "articles", "articles_without_card")})


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

