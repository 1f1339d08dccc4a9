"""Logistic regression and ROC AUC for the describer's calibration and the person probe, in NumPy."""

from __future__ import annotations

import numpy as np


def fit_logistic(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, l2: float = 1e-2, steps: int = 50,
) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised, sample-weighted logistic regression (Newton's method)."""
    n, f = x.shape
    sw = np.ones(n) if weights is None else weights / weights.mean()  # (N,)
    xb = np.c_[x, np.ones(n)]  # (N, F+1)
    w = np.zeros(f + 1)
    reg = np.r_[np.full(f, l2), 0.0]
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (sw * (p - y)) / n + reg * w
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb / n + np.diag(reg + 1e-9)
        w -= np.linalg.solve(hess, grad)
    return w[:-1], float(w[-1])


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney form, ties counted half)."""
    labels = np.asarray(labels, bool)
    if labels.all() or not labels.any():
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # average rank of tied scores
    n_pos, n_neg = labels.sum(), (~labels).sum()
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
