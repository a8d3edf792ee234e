"""A twin of the probed model: its own modules, weights and hooks; what else the modules hold (a data spec, a dataset)
shared, not copied; a bound method bound to the twin; its layers read on a batch as the model's are."""

from __future__ import annotations

import torch
from helpers.probe_models import TinyDigitNet

from latent_probe.data import DigitsDataModule
from latent_probe.probing import build_data_spec
from latent_probe.probing.pooling import Pooling
from latent_probe.probing.twin import module_shapes, read_layers, twin


class Holder(TinyDigitNet):
    """The digits net holding a big object, a list and a bound method of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.big = object()  # stands for a dataset or a data spec: never copied
        self.seen: list[int] = []
        self.head = self.classifier_of  # a bound method

    def classifier_of(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's output: this module's own."""
        return self.classifier(x)


def test_a_twin_has_its_own_weights_and_hooks_and_shares_the_rest():
    model = Holder()
    copied = twin(model)
    assert copied.big is model.big and copied.seen is not model.seen and copied.head.__self__ is copied
    assert module_shapes(copied) == module_shapes(model) and not any(p.requires_grad for p in copied.parameters())
    with torch.no_grad():
        copied.hidden.weight.zero_()
    assert model.hidden.weight.abs().sum() > 0, "the twin's weights are its own"
    spec = build_data_spec(datamodule=DigitsDataModule())
    batch = spec.fetch(spec.dataset("val"), list(range(5)))
    called = []
    model.hidden.register_forward_hook(lambda *_: called.append("model"))
    outputs = read_layers(copied, spec, batch, ["hidden", "bottleneck_act"], Pooling(), torch.device("cpu"))
    assert called == [] and copied.hidden._forward_hooks == {}, "hooks on the twin alone, removed after"
    assert outputs["hidden"].shape == (5, 16) and torch.equal(outputs["hidden"], copied.hidden.bias.expand(5, 16))
    assert outputs["bottleneck_act"].dtype == torch.float32
