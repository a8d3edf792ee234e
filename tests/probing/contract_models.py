"""Models and data that exercise the engine's contract: dict batches, tuple and dict layer outputs, a layer never
called and one called twice (importable as ``contract_models.X`` from a config)."""

from __future__ import annotations

from collections import OrderedDict

import pytorch_lightning as pl
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from latent_probe.models import LogitsClassifierModule


class DictDigits(Dataset):
    """scikit-learn's 8x8 digits as Hugging Face-style dict items: ``{"pixel_values": (1, 8, 8), "labels": int}``."""

    classes = [f"digit {d}" for d in range(10)]

    def __init__(self, start: int = 0, stop: int = 600) -> None:
        digits = load_digits()
        self.pixels = torch.as_tensor(digits.images[start:stop], dtype=torch.float32).div(16).unsqueeze(1)
        self.labels = torch.as_tensor(digits.target[start:stop], dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"pixel_values": self.pixels[index], "labels": self.labels[index]}


class DictDigitsDataModule(pl.LightningDataModule):
    """A datamodule no probe has heard of: no ``data_spec()``, dict batches, train/val/test dataloaders."""

    def setup(self, stage: str | None = None) -> None:
        self.parts = {"train": DictDigits(0, 600), "val": DictDigits(600, 800), "test": DictDigits(800, 1000)}

    def train_dataloader(self):
        return DataLoader(self.parts["train"], batch_size=32, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.parts["val"], batch_size=64)

    def test_dataloader(self):
        return DataLoader(self.parts["test"], batch_size=64)


class Encoder(nn.Module):
    """64 -> 16 with its activation; returns a tensor, a tuple ``(hidden, pre-activation)`` or a dict."""

    def __init__(self, output: str = "tensor") -> None:
        super().__init__()
        self.output = output
        self.fc = nn.Linear(64, 16)
        self.act = nn.Tanh()

    def forward(self, x: torch.Tensor):
        pre = self.fc(x.flatten(1))
        hidden = self.act(pre)
        if self.output == "tuple":
            return hidden, pre
        if self.output == "dict":
            return OrderedDict(hidden=hidden, pre=pre)
        return hidden


class ContractNet(LogitsClassifierModule):
    """``encoder`` (tensor, tuple or dict output), an ``unused`` layer, a ``shared`` ReLU called twice, ``head``.

    Batches are ``(x, y)`` tuples or ``{"pixel_values", "labels"}`` dicts (the base splits both by the data spec's rule).
    """

    def __init__(self, output: str = "tensor", lr: float = 0.01) -> None:
        super().__init__(lr=lr)
        self.encoder = Encoder(output)
        self.shared = nn.ReLU()
        self.mix = nn.Linear(16, 16)
        self.unused = nn.Linear(64, 4)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        encoded = self.encoder(x)
        hidden = encoded if isinstance(encoded, torch.Tensor) else (encoded[0] if isinstance(encoded, tuple) else encoded["hidden"])
        return self.head(self.shared(self.mix(self.shared(hidden))))

    def loss_and_predictions(self, x, y):
        """Cross-entropy and argmax."""
        logits = self(x)
        return F.cross_entropy(logits, y), logits.argmax(-1)


class VariableTokens(Dataset):
    """Dict items of variable-length token ids, ``{"input_ids": (T,), "labels": int}``, T in 3..16 whatever the class
    (class c draws its tokens from its own range of a 100-token vocabulary; token 0 is left for padding)."""

    def __init__(self, size: int = 48, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, 2, (size,), generator=generator)
        lengths = torch.randint(3, 17, (size,), generator=generator)
        self.tokens = [torch.randint(1 + 50 * int(c), 50 + 50 * int(c), (int(n),), generator=generator)
                       for c, n in zip(self.labels, lengths)]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"input_ids": self.tokens[index], "labels": self.labels[index]}
