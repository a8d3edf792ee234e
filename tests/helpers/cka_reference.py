"""Float64 NumPy references for CKA tests: Kornblith's tr(KHLH) formula and the digits net's layers from its weights."""

from __future__ import annotations

import numpy as np
import torch

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
