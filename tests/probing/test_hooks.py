"""Forward-hook capture: hooks removed, modes restored, in-place activations recorded as they were."""

import pytest
import torch
from torch import nn

from latent_probe.errors import ConfigError
from latent_probe.probing import recorded_outputs as capture_outputs
from latent_probe.probing import resolve_layers


def make_net():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(4, 2))


def test_in_place_activation_does_not_change_the_recorded_input_layer():
    net = make_net()
    x = torch.randn(8, 3)
    with capture_outputs(net, ["0", "1"]) as records:
        net(x)
    expected = net[0](x)
    assert torch.allclose(records["0"][0], expected), "ReLU(inplace) must not alter the Linear's recorded output"
    assert torch.allclose(records["1"][0], expected.clamp_min(0))
    assert (records["0"][0] < 0).any()


def test_hooks_removed_and_modes_restored_even_on_error():
    net = make_net()
    net.train()
    net[2].eval()  # a mixed state must come back exactly
    with pytest.raises(RuntimeError), capture_outputs(net, ["3"]):
        assert not net.training and not net[2].training
        raise RuntimeError("boom")
    assert net.training and not net[2].training and net[0].training
    assert all(not m._forward_hooks for m in net.modules())


def test_capture_is_in_eval_mode_so_dropout_is_off():
    net = make_net()
    net.train()
    x = torch.randn(4, 3)
    with capture_outputs(net, ["2"]) as records:
        net(x)
        net(x)
    assert torch.equal(records["2"][0], records["2"][1])


def test_resolve_layers_patterns_in_model_order_and_clear_error():
    net = nn.Sequential()
    net.add_module("enc", nn.Sequential(nn.Linear(2, 2), nn.Tanh()))
    net.add_module("head", nn.Linear(2, 1))
    assert resolve_layers(net, ["head", "enc.*"]) == ["enc.0", "enc.1", "head"]
    with pytest.raises(ConfigError, match=r"layer 'hed' not found in Sequential; module paths: head"):
        resolve_layers(net, ["hed"])
