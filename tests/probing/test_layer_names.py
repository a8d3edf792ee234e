"""Layer names: patterns (``*`` crosses dots, ``re:`` for one level), parts of non-tensor outputs, the reduction rule."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

from latent_probe.errors import ConfigError
from latent_probe.probing import recorded_outputs, reduce_output, resolve_layers
from latent_probe.probing.layers import named_exactly, split_part


def tree() -> nn.Module:
    return nn.Sequential(OrderedDict(encoder=nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU())), head=nn.Linear(3, 1)))


def test_star_crosses_dots_and_re_matches_one_level():
    model = tree()
    assert resolve_layers(model, ["encoder.*"]) == ["encoder.0", "encoder.1", "encoder.1.0"]
    assert resolve_layers(model, [r"re:encoder\.[^.]+"]) == ["encoder.0", "encoder.1"]
    assert resolve_layers(model, ["head", "encoder.0[0]"]) == ["encoder.0[0]", "head"], "model order, parts kept"


def test_unknown_layers_and_bad_patterns_explain_the_syntax():
    with pytest.raises(ConfigError, match=r"layer 'encoder\.2' not found in Sequential; module paths: encoder.*\* crosses dots.*re:"):
        resolve_layers(tree(), ["encoder.2"])
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        resolve_layers(tree(), ["re:encoder[("])


def test_split_part():
    assert split_part("encoder[0]") == ("encoder", 0)
    assert split_part("vit.encoder[last_hidden_state]") == ("vit.encoder", "last_hidden_state")
    assert split_part("layers.3") == ("layers.3", None)


class Output(OrderedDict):
    """Shaped like a Hugging Face ``ModelOutput``: a dict whose keys are also attributes."""

    def __getattr__(self, name):
        return self[name]


def test_reduction_rule_first_tensor_unless_a_part_is_named():
    a, b = torch.ones(2, 3), torch.zeros(2, 4)
    assert reduce_output(a) == (a, "")
    assert reduce_output((None, a, b))[1] == "[1]"
    assert reduce_output({"mask": None, "hidden": b})[1] == "[hidden]"
    assert reduce_output(Output(logits=a, hidden=b), "hidden")[0] is b
    assert reduce_output([a, b], 1)[0] is b
    with pytest.raises(TypeError, match=r"has no part \[x\]; parts: logits, hidden"):
        reduce_output(Output(logits=a, hidden=b), "x")
    with pytest.raises(TypeError, match="holds no tensor"):
        reduce_output("text")


def test_recorded_outputs_read_the_named_part_of_every_call():
    class Pair(nn.Module):
        def forward(self, x):
            return x * 2, {"twice": x * 4}

    model = nn.Sequential(OrderedDict(pair=Pair()))
    with recorded_outputs(model, ["pair", "pair[0]"]) as records:
        model(torch.ones(2, 1))
        model(torch.ones(2, 1))
    assert [r.tolist() for r in records["pair"]] == [[[2.0], [2.0]]] * 2 and len(records["pair[0]"]) == 2
    expected = r"part \[1\] of its output \(tuple of 2\) is a dict, not a tensor"
    with pytest.raises(TypeError, match=expected), recorded_outputs(model, ["pair[1]"]):
        model(torch.ones(2, 1))


def test_names_given_exactly_are_told_from_patterns():
    written = ["encoder.*", "head", "encoder.0[ 0 ]", r"re:encoder\.\d", "encoder.?"]
    assert named_exactly(written) == {"head", "encoder.0[0]"}, "as resolve_layers writes them"
