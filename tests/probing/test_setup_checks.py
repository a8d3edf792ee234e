"""The engine's contract through the real CLI, for every registered probe: dict batches, tuple and dict layer outputs
work; a layer never called or called twice is one error line before training, with no run folder left behind."""

from __future__ import annotations

import inspect
import json

import pytest

from latent_probe.registry import PROBES, list_probes

DIGITS = ["--data", "DigitsDataModule"]
DICT_DATA = ["--data", "contract_models.DictDigitsDataModule"]
WEIGHT_LAYER = "encoder.fc"  # what a probe that reads weights (not outputs) is pointed at


def net(output: str = "tensor") -> list[str]:
    return ["--model", "contract_models.ContractNet", f"--model.output={output}"]


def probe_args(name: str, layer: str) -> list[str]:
    """One probe of the registered class ``name`` on ``layer``, small and strict (a failure stops the run)."""
    cls = PROBES.resolve(name)
    init = {"layers": [layer if cls.reads_activations else WEIGHT_LAYER], "strict": True}
    accepted = inspect.signature(cls).parameters
    init.update({key: value for key, value in {"max_samples": 64, "n_images": 1}.items() if key in accepted or "kwargs" in accepted})
    if "n_images" not in accepted:
        init.pop("n_images", None)
    return ["--probes", json.dumps([{"class_path": name, "init_args": init}]), "--experiment", "contract"]


def manifest(tmp_path, name: str) -> dict:
    probe = PROBES.resolve(name)(**({"n_images": 1} if "n_images" in inspect.signature(PROBES.resolve(name)).parameters else {}))
    folder = tmp_path / "runs" / "contract" / "version_0" / "probes" / probe.name / "fit_end"
    assert (folder / ".complete").is_file(), f"{name} wrote no complete moment: {sorted(p.name for p in folder.parent.rglob('*'))}"
    return json.loads((folder / "manifest.json").read_text())


def assert_one_line_before_training(result, tmp_path, *expected: str) -> None:
    assert result.code == 2, result.err[-3000:]
    assert "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.startswith("latent-probe: error:")]
    assert len(lines) == 1, result.err[-3000:]
    for part in expected:
        assert part in lines[0], lines[0]
    assert not list((tmp_path / "runs").rglob("version_*")) if (tmp_path / "runs").exists() else True, "a run folder was left behind"


SUCCESS_CASES = {
    # case: (model args, data args, layer read, the part the manifest must record)
    "dict batches": (net(), DICT_DATA, "encoder", ""),
    "tuple outputs": (net("tuple"), DIGITS, "encoder", "[0]"),
    "dict outputs": (net("dict"), DIGITS, "encoder", "[hidden]"),
    "a named part of a dict output": (net("dict"), DIGITS, "encoder[pre]", "[pre]"),
}


@pytest.mark.parametrize("probe", list_probes())
@pytest.mark.parametrize("case", list(SUCCESS_CASES))
def test_probe_reads_any_batch_and_output(case, probe, run_cli, tmp_path):
    model, data, layer, part = SUCCESS_CASES[case]
    result = run_cli("fit", *model, *data, *probe_args(probe, layer))
    assert result.code == 0, result.err[-3000:]
    written = manifest(tmp_path, probe)
    if PROBES.resolve(probe).reads_activations:
        assert [(row["layer"], row["part"]) for row in written["layers"]] == [(layer, part)]
        assert written["layers"][0]["shape"] == [16] and written["layers"][0]["stored"] == "as is"


@pytest.mark.parametrize("probe", list_probes())
def test_layer_never_called_fails_before_training(probe, run_cli, tmp_path):
    result = run_cli("fit", *net(), *DIGITS, *probe_args(probe, "unused"))
    if not PROBES.resolve(probe).reads_activations:  # weights exist whether or not forward calls the layer
        assert result.code == 0, result.err[-3000:]
        return
    assert_one_line_before_training(result, tmp_path, f"probe '{PROBES.resolve(probe)().name}'", "'unused' is never called")


@pytest.mark.parametrize("probe", list_probes())
def test_layer_called_twice_fails_before_training(probe, run_cli, tmp_path):
    if PROBES.resolve(probe).reads_activations:
        result, expected = run_cli("fit", *net(), *DIGITS, *probe_args(probe, "shared")), "'shared' is called 2 times per forward pass"
    else:  # a weight reader is pointed at the shared activation itself, which has no weights
        result = run_cli("fit", *net(), *DIGITS, "--probes", json.dumps([{"class_path": probe, "init_args": {"layers": ["shared"]}}]))
        expected = "'shared' is a ReLU"
    assert_one_line_before_training(result, tmp_path, expected)


def test_a_part_that_does_not_exist_lists_the_parts(run_cli, tmp_path):
    result = run_cli("fit", *net("dict"), *DIGITS, *probe_args("EmbeddingDumper", "encoder[logits]"))
    assert_one_line_before_training(result, tmp_path, "has no part [logits]", "parts: hidden, pre")


def test_forward_pass_that_fails_on_the_data_is_one_line(run_cli, tmp_path):
    result = run_cli("fit", "--model", "BottleneckClassifier", *DIGITS, *probe_args("EmbeddingDumper", "bottleneck"))
    assert_one_line_before_training(result, tmp_path, "BottleneckClassifier's forward pass fails on 2 samples", "HINT")


def test_data_spec_key_overrides_what_is_inferred(run_cli, tmp_path):
    result = run_cli("fit", *net(), *DICT_DATA, "--data_spec.label_key", "none", *probe_args("LinearProbe", "encoder"))
    assert_one_line_before_training(result, tmp_path, "probe 'linear_probe' needs labels", "data_spec.label_key")
    result = run_cli("fit", *net(), *DICT_DATA, "--data_spec.input_key", "images", *probe_args("EmbeddingDumper", "encoder"))
    assert_one_line_before_training(result, tmp_path, "data_spec key 'images' is not in the data's items", "pixel_values")


TIMM_VIT = ["--model", "Classifier", "--model.num_classes", "10", "--model.backbone.class_path",
            "latent_probe.models.backbones.timm_model", "--model.backbone.init_args.name", "vit_tiny_patch16_224",
            "--model.backbone.init_args.num_classes", "10", "--model.backbone.init_args.in_chans", "1",
            "--model.backbone.init_args.options",
            json.dumps({"img_size": 28, "patch_size": 7, "depth": 2, "embed_dim": 32, "num_heads": 2}),
            "--data", "MNISTDataModule", "--experiment", "vit"]


def vit_probes(*layers: str) -> list[str]:
    return ["--probes", json.dumps([{"class_path": name, "init_args": {"layers": list(layers), "max_samples": 64, "strict": True}}
                                    for name in ("EmbeddingDumper", "LinearProbe")])]


def test_a_pattern_leaves_out_modules_never_called_and_the_manifest_says_so(run_cli, tmp_path, fake_mnist):
    from helpers.mnist_files import fake_mnist_args

    result = run_cli("fit", *TIMM_VIT, *fake_mnist_args(fake_mnist), *vit_probes("backbone.blocks.*"))
    assert result.code == 0, result.err[-3000:]
    skipped = ["backbone.blocks.0.attn.attn_drop", "backbone.blocks.1.attn.attn_drop"]  # fused attention never calls them
    for probe in ("embedding_dumper", "linear_probe"):
        written = json.loads((tmp_path / "runs" / "vit" / "version_0" / "probes" / probe / "fit_end" / "manifest.json").read_text())
        assert [row["layer"] for row in written["left_out"]] == skipped
        assert written["left_out"][0]["why"] == "never called by the forward pass; matched only by a pattern"
        read = [row["layer"] for row in written["layers"]]
        assert "backbone.blocks.1.mlp.fc2" in read and not set(skipped) & set(read)


def test_a_name_given_exactly_must_still_be_called(run_cli, tmp_path, fake_mnist):
    from helpers.mnist_files import fake_mnist_args

    result = run_cli("fit", *TIMM_VIT, *fake_mnist_args(fake_mnist), *vit_probes("backbone.blocks.*", "backbone.blocks.0.attn.attn_drop"))
    assert_one_line_before_training(result, tmp_path, "'backbone.blocks.0.attn.attn_drop' is never called")
    result = run_cli("fit", *TIMM_VIT, *fake_mnist_args(fake_mnist), *vit_probes("backbone.blocks.*.attn_drop"))
    assert_one_line_before_training(result, tmp_path, "match only modules the forward pass never calls")
