"""Models and data that are not classifiers (importable as ``helpers.any_models.X`` in configs): an autoencoder with no
validation step, one whose validation step raises, a segmentation net whose forward returns a dict, unlabelled digits
(bare tensors) and images with per-pixel masks."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset


class UnlabelledDigits(Dataset):
    """scikit-learn's 8x8 digits ``[start, stop)`` as bare ``(1, 8, 8)`` tensors in [0, 1]: no label at all."""

    def __init__(self, start: int = 0, stop: int = 200) -> None:
        digits = load_digits()
        self.pixels = torch.as_tensor(digits.images[start:stop], dtype=torch.float32).div(16).unsqueeze(1)

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.pixels[index]


class PlainAutoencoder(pl.LightningModule):
    """64 -> 16 -> 4 -> 16 -> 64 on 8x8 images, MSE reconstruction loss in ``training_step``; no validation step at all.

    Module paths: ``encoder.1`` (Linear 64 -> 16), ``encoder.2`` (ReLU), ``encoder.3`` (Linear 16 -> 4, the code),
    ``decoder.0`` ... ``decoder.3`` (Sigmoid). Batches are bare image tensors.
    """

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__()
        self.lr = lr
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4))
        self.decoder = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 64), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction, shaped like ``x``."""
        return self.decoder(self.encoder(x)).reshape(x.shape)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        """Mean squared reconstruction error."""
        assert isinstance(batch, torch.Tensor), f"bare tensors expected, got {type(batch).__name__}"
        loss = F.mse_loss(self(batch), batch)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class ValidationRaises(PlainAutoencoder):
    """A ``PlainAutoencoder`` whose ``validation_step`` raises: the probes must never call it."""

    def validation_step(self, batch, batch_idx: int) -> None:
        raise RuntimeError("validation_step must not run in a probe pass")


class Trunk(nn.Module):
    """Two 3x3 convolutions; returns a dict ``{"features": (N, 8, H, W), "edges": (N, 4, H, W)}``."""

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 4, 3, padding=1)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.act2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        edges = self.act1(self.conv1(x))
        return {"features": self.act2(self.conv2(edges)), "edges": edges}


class TinySegNet(nn.Module):
    """A segmentation-style net: ``trunk`` (dict output) then a 1x1 ``head``; forward returns ``{"logits", "features"}``."""

    def __init__(self, in_channels: int = 3, num_classes: int = 3) -> None:
        super().__init__()
        self.trunk = Trunk(in_channels)
        self.head = nn.Conv2d(8, num_classes, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.trunk(x)["features"]
        return {"logits": self.head(features), "features": features}


class MaskedSquares(Dataset):
    """``(3, 12, 12)`` random images, each with a bright square, and its per-pixel mask ``(12, 12)`` (0 background, 1 square,
    2 the square's border). ``as_dict``: items are ``{"image", "mask"}`` dicts, else ``(image, mask)`` tuples."""

    def __init__(self, size: int = 24, seed: int = 0, as_dict: bool = False) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.images = torch.rand(size, 3, 12, 12, generator=generator) * 0.3
        self.masks = torch.zeros(size, 12, 12, dtype=torch.int64)
        corners = torch.randint(0, 7, (size, 2), generator=generator)
        for i, (row, col) in enumerate(corners.tolist()):
            self.masks[i, row:row + 5, col:col + 5] = 2
            self.masks[i, row + 1:row + 4, col + 1:col + 4] = 1
            self.images[i, :, row:row + 5, col:col + 5] += 0.6
        self.as_dict = as_dict

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        if self.as_dict:
            return {"image": self.images[index], "mask": self.masks[index]}
        return self.images[index], self.masks[index]
