"""Float64 NumPy references for CKA tests, written from the papers' formulas with explicit Gram matrices (slow, clear), and the
digits net's layers from its weights."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from latent_probe.data import DigitsDataModule


def reference_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Kornblith et al. (2019): HSIC = tr(K H L H) on linear Gram matrices, normalised."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    kh, lh = x @ x.T @ h, y @ y.T @ h
    return float(np.sum(kh * lh.T) / np.sqrt(np.sum(kh * kh.T) * np.sum(lh * lh.T)))


def digits_layers(state: dict[str, torch.Tensor], index: np.ndarray, split: str = "val") -> dict[str, np.ndarray]:
    """TinyDigitNet's ``hidden``, ``hidden_act``, ``bottleneck_act`` and ``classifier`` on the samples ``index`` of
    ``split``, in float64 NumPy from a state dict (a checkpoint's, or ``model.state_dict()``)."""
    dataset = DigitsDataModule().dataset(split)
    x = torch.stack([dataset[i][0] for i in np.asarray(index).tolist()]).flatten(1).double().numpy()
    w = {name: value.detach().double().cpu().numpy() for name, value in state.items()}
    hidden = x @ w["hidden.weight"].T + w["hidden.bias"]
    act = np.maximum(hidden, 0)
    bottleneck = np.tanh(act @ w["bottleneck.weight"].T + w["bottleneck.bias"])
    return {"hidden": hidden, "hidden_act": act, "bottleneck_act": bottleneck,
            "classifier": bottleneck @ w["classifier.weight"].T + w["classifier.bias"]}


def digits_val_layers(model: nn.Module) -> dict[str, np.ndarray]:
    """TinyDigitNet's (or a wider copy's) layers over the whole digits val split, in float64 NumPy, in dataset-index order."""
    return digits_layers(model.state_dict(), np.arange(len(DigitsDataModule().dataset("val"))))


def reference_hsic1(x: np.ndarray, y: np.ndarray) -> float:
    """Song et al. (2012) as written in Nguyen et al. (2021), eq. 3: Gram matrices with zeroed diagonals, ones vectors."""
    n = len(x)
    gram_x, gram_y = x @ x.T, y @ y.T
    np.fill_diagonal(gram_x, 0)
    np.fill_diagonal(gram_y, 0)
    one = np.ones(n)
    value = (np.trace(gram_x @ gram_y) + (one @ gram_x @ one) * (one @ gram_y @ one) / ((n - 1) * (n - 2))
             - 2 / (n - 2) * (one @ gram_x @ gram_y @ one))
    return float(value / (n * (n - 3)))


def reference_minibatch_cka(layers: list[np.ndarray], size: int, processes: int = 1, order: np.ndarray | None = None) -> np.ndarray:
    """CKA = mean_k HSIC1(K_k, L_k) / sqrt(mean_k HSIC1(K_k, K_k) mean_k HSIC1(L_k, L_k)) over groups of ``size`` consecutive
    rows of each process's share (rows ``order[r], order[r + W], ...`` of W processes: the engine's strided shards of
    the order it visits the rows in; default: dataset order), each share's last, smaller group left out."""
    order = np.arange(len(layers[0])) if order is None else np.asarray(order)
    groups = [order[r::processes][g * size:(g + 1) * size]
              for r in range(processes) for g in range(len(order[r::processes]) // size)]
    hsic = np.array([[np.mean([reference_hsic1(a[rows], b[rows]) for rows in groups]) for b in layers] for a in layers])
    return hsic / np.sqrt(np.outer(np.diag(hsic), np.diag(hsic)))


def reference_rbf_gram(x: np.ndarray, sigma: float) -> np.ndarray:
    """Kornblith et al.'s ``gram_rbf``: exp(-d^2 / (2 sigma^2 median(d^2))), the median over all pairs, diagonal included."""
    dot = x @ x.T
    squared = np.diag(dot)
    distances = squared[:, None] + squared[None, :] - 2 * dot
    return np.exp(-distances / (2 * sigma**2 * np.median(distances)))


def reference_gram_cka(gram_x: np.ndarray, gram_y: np.ndarray) -> float:
    """CKA of two Gram matrices: tr(K H L H) / sqrt(tr(K H K H) tr(L H L H))."""
    h = np.eye(len(gram_x)) - 1 / len(gram_x)
    kh, lh = h @ gram_x @ h, h @ gram_y @ h
    return float(np.sum(kh * lh) / np.sqrt(np.sum(kh * kh) * np.sum(lh * lh)))
