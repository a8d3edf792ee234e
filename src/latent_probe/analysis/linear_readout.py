"""Fit a linear classifier on one layer's activations and score it (Alain & Bengio's linear probes).

The classifier is scikit-learn's default multinomial logistic regression (L2 penalty, C=1, on standardized
features): ``mean cross-entropy + ||W||^2 / (2n)``, the bias unpenalized. ``softmax_readout`` minimizes that
same objective in float32 on the activations' own device. What makes it fast is a preconditioner: L-BFGS runs
on ``V = L^T W``, where ``L L^T`` is the features' Gram matrix plus the penalty, so the problem it sees is close
to isotropic and about 20 evaluations reach what scikit-learn's float64 L-BFGS reaches in 40-130 iterations.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

# L-BFGS stops when the largest gradient entry, in the preconditioned coordinates it works in, is below a tolerance.
# scikit-learn's is 1e-4; narrow layers are cheap and use it. On wide layers the preconditioner stretches the
# small directions, so the same gradient reads larger there: 1e-3 stops where the accuracy has settled (within
# scikit-learn's own spread between its default and a tight tolerance), in about 20 evaluations instead of 100+.
GRADIENT_TOLERANCE = 1e-4
WIDE_LAYER_TOLERANCE = 1e-3
WIDE_LAYER = 64  # features
MAX_ITERATIONS = 500  # scikit-learn's cap (the preconditioned fit needs far fewer)


def standardize(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Scale features by the training split's mean and std (constant features stay 0)."""
    std, mean = torch.std_mean(train, dim=0, correction=0)
    std = torch.where(std < 1e-6, torch.ones_like(std), std)
    return [(a - mean) / std for a in (train, *others)]


def gram_cholesky(x: torch.Tensor, transposed: torch.Tensor, penalty: float) -> torch.Tensor:
    """The lower Cholesky factor of ``x^T x / n + penalty * I`` (in float64 if float32 is not enough); ``transposed`` is
    ``x.T`` laid out contiguously."""
    gram = transposed @ x
    gram.div_(len(x)).diagonal().add_(penalty)
    factor, info = torch.linalg.cholesky_ex(gram)
    if int(info) != 0:  # rounding made a nearly singular Gram matrix indefinite
        factor = torch.linalg.cholesky(gram.double()).to(x.dtype)
    return factor


def softmax_readout(train_x: torch.Tensor, train_y: torch.Tensor, eval_x: torch.Tensor) -> torch.Tensor:
    """Predicted classes of ``eval_x`` by scikit-learn's default logistic regression, fitted on the tensors' device."""
    train_x, eval_x = standardize(train_x.float(), eval_x.float())
    n, d = train_x.shape
    k = int(train_y.max()) + 1
    penalty = 1.0 / n  # C=1 on a summed loss is 1/(2n) ||W||^2 on the mean loss
    transposed = train_x.T.contiguous()  # X^T g reads memory in order
    factor = gram_cholesky(train_x, transposed, penalty)
    targets = train_y.long()[:, None]
    onehot = F.one_hot(train_y.long(), k).to(train_x.dtype)
    params = torch.zeros(d * k + k, device=train_x.device, requires_grad=True)

    def weights(v: torch.Tensor) -> torch.Tensor:
        return torch.linalg.solve_triangular(factor.T, v, upper=True)  # W = L^-T V

    def closure() -> torch.Tensor:
        with torch.no_grad():
            w, b = weights(params[: d * k].view(d, k)), params[d * k :]
            logits = train_x @ w + b
            log_norm = torch.logsumexp(logits, dim=1)
            loss = (log_norm - logits.gather(1, targets).squeeze(1)).mean() + 0.5 * penalty * (w * w).sum()
            residual = (torch.exp(logits - log_norm[:, None]) - onehot) / n
            grad_w, grad_b = transposed @ residual + penalty * w, residual.sum(0)
            grad_v = torch.linalg.solve_triangular(factor, grad_w, upper=False)
            params.grad = torch.cat([grad_v.reshape(-1), grad_b])
        return loss

    tolerance = WIDE_LAYER_TOLERANCE if d > WIDE_LAYER else GRADIENT_TOLERANCE
    optimizer = torch.optim.LBFGS([params], max_iter=MAX_ITERATIONS, tolerance_grad=tolerance, tolerance_change=1e-12,
                                  line_search_fn="strong_wolfe")
    optimizer.step(closure)
    with torch.no_grad():
        return (eval_x @ weights(params[: d * k].view(d, k)) + params[d * k :]).argmax(1)


def sklearn_readout(train_x, train_y, eval_x, seed: int = 0) -> np.ndarray:
    """The reference: scikit-learn's ``LogisticRegression`` in float64 on CPU (slow on wide layers)."""
    from sklearn.linear_model import LogisticRegression

    train, evaluation = standardize(*(torch.as_tensor(x).detach().cpu().double() for x in (train_x, eval_x)))
    model = LogisticRegression(max_iter=500, random_state=seed)
    return model.fit(train.numpy(), np.asarray(train_y)).predict(evaluation.numpy())


def readout_correct(train_x, train_y, eval_x, eval_y, seed: int = 0, method: str = "torch") -> tuple[np.ndarray, str]:
    """Which samples of ``eval_x`` a linear classifier trained on ``train_x`` gets right (a bool per sample), and the
    method used (``constant`` when the training labels hold one class)."""
    train_y, eval_y = torch.as_tensor(train_y), torch.as_tensor(eval_y)
    if len(torch.unique(train_y)) < 2:
        return (eval_y == train_y[0]).cpu().numpy(), "constant"
    if method == "sklearn":
        predicted = torch.as_tensor(sklearn_readout(train_x, train_y.cpu().numpy(), eval_x, seed))
    else:
        train_x, eval_x = torch.as_tensor(train_x), torch.as_tensor(eval_x)
        predicted = softmax_readout(train_x, train_y.to(train_x.device), eval_x.to(train_x.device))
    return (predicted.cpu() == eval_y.cpu()).numpy(), method


def readout_accuracy(train_x, train_y, eval_x, eval_y, seed: int = 0, method: str = "torch") -> tuple[float, str]:
    """Accuracy on ``eval_x`` of a linear classifier trained on ``train_x``; returns it and the method used."""
    correct, used = readout_correct(train_x, train_y, eval_x, eval_y, seed, method)
    return float(correct.mean()), used


def fit_readouts(train: dict, train_y, evaluation: dict, eval_y, seed: int = 0,
                 method: str = "torch") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """One read-out per key of ``train`` (fitted there, scored on ``evaluation``'s same key): which held-out samples each
    gets right, and the method each used."""
    fitted = {key: readout_correct(train[key], train_y, evaluation[key], eval_y, seed, method) for key in train}
    return {key: correct for key, (correct, _) in fitted.items()}, {key: used for key, (_, used) in fitted.items()}
