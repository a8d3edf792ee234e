"""Fit a linear classifier on one layer's activations and score it (Alain & Bengio's linear probes)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

# Above this many feature values scikit-learn's solver gets slow; a full-batch torch fit is used instead.
SKLEARN_MAX_VALUES = 20_000_000


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale features by the training split's mean and std (constant features stay 0)."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std < 1e-8] = 1.0
    return [(a - mean) / std for a in (train, *others)]


def sklearn_readout(train_x, train_y, val_x, seed: int) -> np.ndarray:
    """Multinomial logistic regression (L2, C=1) predictions on ``val_x``."""
    model = LogisticRegression(max_iter=500, random_state=seed)
    return model.fit(train_x, train_y).predict(val_x)


def torch_readout(train_x, train_y, val_x, seed: int, steps: int = 100, weight_decay: float = 1e-4) -> np.ndarray:
    """A softmax layer fitted with full-batch L-BFGS (for wide layers), predictions on ``val_x``."""
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(train_x, dtype=torch.float32), torch.as_tensor(train_y, dtype=torch.int64)
    n_classes = int(y.max()) + 1
    weight = (torch.randn(x.shape[1], n_classes, generator=generator) * 0.01).requires_grad_()
    bias = torch.zeros(n_classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight + bias, y) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return (torch.as_tensor(val_x, dtype=torch.float32) @ weight + bias).argmax(1).numpy()


def readout_accuracy(train_x, train_y, val_x, val_y, seed: int = 0, method: str = "auto") -> tuple[float, str]:
    """Validation accuracy of a linear classifier trained on ``train_x``; returns it and the method used."""
    train_x, val_x = standardize(np.asarray(train_x, dtype=np.float64), np.asarray(val_x, dtype=np.float64))
    if method == "auto":
        method = "sklearn" if train_x.size <= SKLEARN_MAX_VALUES else "torch"
    if len(np.unique(train_y)) < 2:
        return float(np.mean(val_y == train_y[0])), "constant"
    predict = sklearn_readout if method == "sklearn" else torch_readout
    predicted = predict(train_x, train_y, val_x, seed)
    return float(np.mean(predicted == np.asarray(val_y))), method
