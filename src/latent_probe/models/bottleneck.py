"""The MNIST CNN with a 2-unit bottleneck just before the 10-way output: digits fan out on rays from the origin."""

from __future__ import annotations

from collections import OrderedDict
from typing import ClassVar

import torch
from torch import nn

from latent_probe.errors import check_range
from latent_probe.models.activation_functions import check_activation, make_activation
from latent_probe.models.base import LogitsClassifierModule
from latent_probe.models.dense import MAX_UNITS, check_chain
from latent_probe.registry import register_model


def keras_mnist_features(in_channels: int, image_size: int, hidden: int) -> nn.Sequential:
    """Keras' MNIST CNN up to its 128-unit layer: conv32-conv64-maxpool-dropout-dense-dropout."""
    side = (image_size - 4) // 2  # two 3x3 valid convolutions, then a 2x2 pooling
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(in_channels, 32, kernel_size=3)),
        ("act1", nn.ReLU()),
        ("conv2", nn.Conv2d(32, 64, kernel_size=3)),
        ("act2", nn.ReLU()),
        ("pool", nn.MaxPool2d(2)),
        ("dropout1", nn.Dropout(0.25)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(64 * side * side, hidden)),
        ("fc_act", nn.ReLU()),
        ("dropout2", nn.Dropout(0.5)),
    ]))


def start_bottleneck_alive(bottleneck: nn.Linear, classifier: nn.Linear) -> None:
    """Bottleneck bias 0.1 and an all-zero read-out, so that a 2-unit ReLU bottleneck does not die at once.

    Why: with a random ``Linear(2, 10)`` read-out, the quickest loss drop at the start is to shrink both
    bottleneck units to 0 (uniform predictions), where ReLU units die for every input. Measured on the
    MNIST-10k split (seed_everything 0, Adam 3e-3, 4 epochs): PyTorch's default init 49 % validation accuracy, this init
    85 % (79-86 % over seeds 0-2). A zero read-out first learns to use the 2-D code, then shapes it.
    """
    nn.init.constant_(bottleneck.bias, 0.1)
    nn.init.zeros_(classifier.weight)
    nn.init.zeros_(classifier.bias)


@register_model()
class BottleneckClassifier(LogitsClassifierModule):
    """The Keras MNIST CNN with a 2-unit layer before the 10-way output (digits on rays in 2-D), trained with cross-entropy.

    Module paths, in forward order: ``features.conv1``, ``features.act1``, ``features.conv2``,
    ``features.act2``, ``features.pool``, ``features.dropout1``, ``features.flatten``, ``features.fc``,
    ``features.fc_act``, ``features.dropout2``; then ``bottleneck`` (the ``Linear(hidden, 2)`` whose output
    is the article's "logit", ``dense_2``), ``bottleneck_norm`` (only with ``bottleneck_norm: true``: a
    ``BatchNorm1d`` whose output is then the activation's input), ``bottleneck_act`` (its activation: the 2-D points
    the seed draws) and ``classifier`` (``Linear(2, 10)``, the class logits). Inputs are ``(n, C, H, W)`` images or
    flat vectors.

    A sigmoid bottleneck gets stuck (21.8 % after 8 epochs with the ReLU settings) for two reasons, measured on
    the MNIST-10k split after 4 epochs: its 2-D logits grow until 98 % of them saturate the sigmoid (median
    |logit| 36, so no gradient flows back), and the read-out of points in the unit square needs weights ~30x larger
    than Adam grows in a few thousand steps (it moves each weight by about ``lr`` a step). ``bottleneck_norm``
    keeps the logits standardised and ``readout_lr_scale: 30`` lets the read-out grow: 92.9 % test accuracy after
    4 epochs (each alone: 41.6 % and 68.0 %); see ``configs/bottleneck2d_sigmoid.yaml``.

    Args:
        activation: activation of the bottleneck: ``relu``, ``leaky_relu``, ``sigmoid``, ``tanh`` or ``identity``.
        bottleneck_dim: units in the bottleneck (2 in the article).
        hidden: units of the fully connected layer before the bottleneck.
        num_classes: number of output classes.
        in_channels: channels of the input images.
        image_size: side of the square input images (28 for MNIST, 8 for scikit-learn's digits).
        lr: Adam learning rate (1e-3 reached ~60 % validation accuracy after 6 epochs on MNIST-10k, 3e-3 ~85 % after 4).
        lr_schedule: ``constant`` or ``cosine`` (decay to 0 over the run).
        bottleneck_norm: put a ``BatchNorm1d`` between the bottleneck and its activation (for saturating activations).
        readout_lr_scale: the read-out (``classifier``) learns at ``lr`` times this.
    """

    # The layers each probe reads when a config names none: the module paths documented above.
    probe_layers: ClassVar[dict[str, list[str]]] = {
        "EmbeddingDumper": ["bottleneck", "bottleneck_act"], "InfluenceMapper": ["bottleneck", "classifier"],
        "FilterTiler": ["features.conv1"], "LayerTransformRecorder": ["features.fc_act", "bottleneck", "bottleneck_act", "classifier"],
    }

    def __init__(
        self,
        activation: str = "relu",
        bottleneck_dim: int = 2,
        hidden: int = 128,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 28,
        lr: float = 3e-3,
        lr_schedule: str = "constant",
        bottleneck_norm: bool = False,
        readout_lr_scale: float = 1.0,
    ) -> None:
        super().__init__(lr=lr, lr_schedule=lr_schedule)
        check_range("readout_lr_scale", readout_lr_scale, positive=True)
        self.readout_lr_scale = readout_lr_scale
        check_activation(activation)
        check_range("bottleneck_dim", bottleneck_dim, minimum=1, maximum=MAX_UNITS)
        check_range("hidden", hidden, minimum=1, maximum=MAX_UNITS)
        check_range("num_classes", num_classes, minimum=2, maximum=MAX_UNITS)
        check_range("in_channels", in_channels, minimum=1, maximum=4096)
        check_range("image_size", image_size, minimum=6, maximum=16_384)  # two 3x3 convolutions and a 2x2 pooling must fit
        check_chain("BottleneckClassifier", [64 * ((image_size - 4) // 2) ** 2, hidden, bottleneck_dim, num_classes])
        self.save_hyperparameters()
        self.example_input_array = torch.zeros(2, in_channels, image_size, image_size)
        self.image_shape = (in_channels, image_size, image_size)
        self.features = keras_mnist_features(in_channels, image_size, hidden)
        self.bottleneck = nn.Linear(hidden, bottleneck_dim)
        self.bottleneck_norm = nn.BatchNorm1d(bottleneck_dim) if bottleneck_norm else None
        self.bottleneck_act = make_activation(activation)
        self.classifier = nn.Linear(bottleneck_dim, num_classes)
        start_bottleneck_alive(self.bottleneck, self.classifier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, shape ``(n, num_classes)``."""
        images = x.reshape(len(x), *self.image_shape)
        logits = self.bottleneck(self.features(images))
        if self.bottleneck_norm is not None:
            logits = self.bottleneck_norm(logits)
        return self.classifier(self.bottleneck_act(logits))

    def parameter_groups(self) -> list[dict]:
        """The read-out at ``lr * readout_lr_scale``, everything else at ``lr``."""
        readout = list(self.classifier.parameters())
        chosen = {id(p) for p in readout}
        rest = [p for p in self.parameters() if id(p) not in chosen]
        return [{"params": rest}, {"params": readout, "lr": self.lr * self.readout_lr_scale}]
