"""The pooling rule every activation-storing probe follows: tokens by token_pooling, maps to max_features."""

from __future__ import annotations

import pytest
import torch

from latent_probe.errors import ConfigError
from latent_probe.probing.pooling import Pooling


def test_wide_feature_maps_are_average_pooled_over_space():
    maps = torch.arange(2 * 8 * 6 * 6, dtype=torch.float32).reshape(2, 8, 6, 6)
    assert Pooling(max_features=10_000)(maps).shape == (2, 288), "small enough: flattened"
    pooled = Pooling(max_features=72)(maps)  # 8 channels x 3 x 3
    assert pooled.shape == (2, 72)
    assert torch.allclose(pooled.reshape(2, 8, 3, 3)[0, 0, 0, 0], maps[0, 0, :2, :2].mean())
    assert Pooling(max_features=3)(maps).shape == (2, 8), "never fewer than one value per channel"
    assert Pooling(max_features=None)(maps).shape == (2, 288)
    assert Pooling(max_features=72).describe((8, 6, 6)) == "average-pooled 8x6x6 -> 8x3x3 = 72"


def test_tokens_are_pooled_as_asked():
    tokens = torch.randn(3, 5, 4)
    assert torch.allclose(Pooling()(tokens), tokens.mean(1))
    assert torch.equal(Pooling("first")(tokens), tokens[:, 0])
    assert Pooling("flatten")(tokens).shape == (3, 20)
    assert Pooling("first").describe((5, 4)) == "first of 5 tokens -> 4"
    assert Pooling()(torch.randn(3)).shape == (3, 1)


def test_bad_pooling_options_are_config_errors():
    with pytest.raises(ConfigError, match="unknown token_pooling 'cls'"):
        Pooling("cls")
    with pytest.raises(ConfigError, match="max_features must be >= 1"):
        Pooling(max_features=0)
