"""``latent-probe layers``: every module of a config's model with its calls, output, the part a probe reads and the probes
that can read it, from one setup pass; nothing trained, no run folder."""

from __future__ import annotations

import json
import re

import torch
from helpers.mnist_files import fake_mnist_args
from helpers.paths import CONFIGS

from latent_probe.registry import get_model

ROW = re.compile(r"^(?P<module>\S+)\s+(?P<type>\S+)\s+(?P<calls>\d+)\s+(?P<output>tensor \([^)]*\)|-|\S+ of \d+)\s")
RESNET = ["--model", "Classifier", "--model.backbone.class_path", "torchvision.models.resnet18",
          "--model.backbone.init_args.num_classes", "10", "--model.in_channels", "1", "--data", "DigitsDataModule"]
HF_VIT = ["--config", str(CONFIGS / "byo" / "hf_vit_mnist.yaml")]
TIMM_RESNET = ["--config", str(CONFIGS / "byo" / "timm_resnet_mnist.yaml")]


def listed(run_cli, tmp_path, *args: str) -> dict[str, dict]:
    """``latent-probe layers ARGS --json`` by module path; it must succeed and leave no run folder."""
    result = run_cli("layers", *args, "--json")
    assert result.code == 0, result.err[-3000:]
    assert not (tmp_path / "runs").exists(), "layers trains nothing and writes no run"
    return {row["module"]: row for row in json.loads(result.out)}


def forward_calls(model: torch.nn.Module, inputs: torch.Tensor) -> dict[str, list[tuple[int, ...]]]:
    """Each named module's output shapes in one forward pass, by forward hooks of the test's own."""
    seen: dict[str, list[tuple[int, ...]]] = {name: [] for name, _ in model.named_modules() if name}
    handles = [module.register_forward_hook(lambda m, i, o, name=name: seen[name].append(tuple(o.shape)))
               for name, module in model.named_modules() if name]
    with torch.no_grad():
        model.eval()(inputs)
    for handle in handles:
        handle.remove()
    return seen


def test_quickstart_lists_every_module_with_its_calls_and_shape(run_cli, tmp_path):
    result = run_cli("layers", "--config", str(CONFIGS / "quickstart.yaml"))
    assert result.code == 0, result.err[-3000:]
    assert not (tmp_path / "runs").exists()
    rows = {m["module"]: m for m in (ROW.match(line) for line in result.out.splitlines()[1:]) if m}
    expected = forward_calls(get_model("DeepMLP", width=3, depth=10), torch.zeros(2, 2))
    assert list(rows) == list(expected), "every module path of named_modules, in model order"
    for path, shapes in expected.items():
        assert int(rows[path]["calls"]) == len(shapes) == 1 and rows[path]["output"] == f"tensor {shapes[0]}", path
        assert rows[path].string.rstrip().endswith("layer_transform_recorder, layer_similarity"), "the config's probes can read it"
    assert result.out.splitlines()[0].split() == ["module", "type", "calls", "output", "reads", "probes"]


def test_resnet18_in_classifier(run_cli, tmp_path):
    probes = [{"class_path": "FilterTiler", "init_args": {"layers": ["backbone.conv1"]}},
              {"class_path": "EmbeddingDumper", "init_args": {"layers": ["backbone.fc"]}}]
    rows = listed(run_cli, tmp_path, *RESNET, "--probes", json.dumps(probes))
    assert rows["backbone.conv1"]["type"] == "Conv2d" and rows["backbone.conv1"]["probes"] == ["filter_tiler", "embedding_dumper"]
    assert rows["backbone.avgpool"]["output"] == "tensor (2, 512, 1, 1)" and rows["backbone.avgpool"]["probes"] == ["embedding_dumper"]
    relu = rows["backbone.layer1.0.relu"]  # torchvision's BasicBlock calls its one ReLU twice
    assert relu["calls"] == 2 and relu["reads"] == "" and relu["probes"] == []
    assert "called 2 times" in relu["why_not"]["embedding_dumper"] and "not a Linear or Conv2d" in relu["why_not"]["filter_tiler"]


def test_timm_model_of_a_shipped_config(run_cli, tmp_path, fake_mnist):
    rows = listed(run_cli, tmp_path, *TIMM_RESNET, *fake_mnist_args(fake_mnist))
    assert rows["backbone.global_pool"]["type"] == "SelectAdaptivePool2d"
    assert rows["backbone.global_pool"]["output"] == "tensor (2, 512)" and rows["backbone.global_pool"]["calls"] == 1
    every = ["embedding_dumper", "linear_probe", "filter_tiler", "layer_transform_recorder", "influence_mapper"]
    assert rows["backbone.conv1.0"]["probes"] == every, "the config's probes, in its order"
    act = rows["backbone.layer1.0.act1"]
    assert act["probes"] == [name for name in every if name != "filter_tiler"] and "ReLU" in act["why_not"]["filter_tiler"]


def test_hugging_face_outputs_show_the_part_read(run_cli, tmp_path, fake_mnist):
    rows = listed(run_cli, tmp_path, *HF_VIT, *fake_mnist_args(fake_mnist))
    assert rows["backbone"]["output"] == "ModelOutput of 1" and rows["backbone"]["reads"] == "[logits] (2, 10)"
    assert rows["backbone.vit"]["output"].startswith("ModelOutput of ")
    assert rows["backbone.vit"]["reads"] == "[last_hidden_state] (2, 17, 64)"
    assert "embedding_dumper" in rows["backbone.vit"]["probes"]


def test_a_tuple_output_and_a_module_called_twice(run_cli, tmp_path):
    result = run_cli("layers", "--model", "contract_models.ContractNet", "--model.output", "tuple", "--data", "DigitsDataModule")
    assert result.code == 0, result.err[-3000:]
    table = {line.split()[0]: line for line in result.out.splitlines()[1:] if line.strip()}
    assert table["encoder"].split()[2:] == ["1", "tuple", "of", "2", "[0]", "(2,", "16)", "embedding_dumper,", "influence_mapper,",
                                            "layer_similarity,", "layer_transform_recorder,", "linear_probe,",
                                            "model_similarity,", "representation_drift,", "unit_stats"]
    assert table["shared"].split()[1:] == ["ReLU", "2", "tensor", "(2,", "16)", "-", "-"], "called twice: no probe reads it"
    assert table["unused"].split()[1:] == ["Linear", "0", "-", "-", "filter_tiler"], "weights are there without a call"
    assert not (tmp_path / "runs").exists()


def test_bad_input_is_one_error_line(run_cli, tmp_path):
    for args in (["--config", "missing.yaml"], ["--model", "NoSuchModel", "--data", "DigitsDataModule"], []):
        result = run_cli("layers", *args)
        lines = [line for line in result.err.splitlines() if line.startswith("latent-probe: error:")]
        assert result.code == 2 and len(lines) == 1 and "Traceback" not in result.err, (args, result.err[-2000:])
    assert not (tmp_path / "runs").exists()
