"""DataSpec: keys inferred from tuple, dict and bare-tensor items when it is built; the config's overrides; pixels and
inputs round trip; a built spec is a frozen value."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from contract_models import DictDigitsDataModule
from torch.utils.data import TensorDataset

from latent_probe.data import DigitsDataModule
from latent_probe.dataspec import DataSpecOverrides, batch_parts, build_data_spec, declared_classes, infer_keys
from latent_probe.errors import ConfigError
from latent_probe.models import MLPClassifier
from latent_probe.probing import DataSpec


def test_keys_are_inferred_from_one_item():
    assert infer_keys((torch.zeros(3), 1)) == (0, 1)
    assert infer_keys((torch.zeros(3), torch.zeros(3, 4))) == (0, None), "a second field that is no label"
    assert infer_keys({"pixel_values": torch.zeros(1, 2, 2), "labels": 3}) == ("pixel_values", "labels")
    tokens = {"input_ids": torch.zeros(5), "attention_mask": torch.ones(5), "label": 1}
    assert infer_keys(tokens) == (("input_ids", "attention_mask"), "label"), "several inputs: model(**inputs)"
    assert infer_keys(torch.zeros(4)) == (None, None)
    with pytest.raises(ConfigError, match="data_spec.input_key"):
        infer_keys({"text": "hello", "label": 1})


def test_an_unknown_datamodule_with_dict_batches_is_read_by_inference():
    spec = build_data_spec(datamodule=DictDigitsDataModule())
    batch = spec.fetch(spec.dataset("val"), [0, 5, 7])
    assert spec.input_key == "pixel_values" and spec.label_key == "labels"
    assert batch.inputs.shape == (3, 1, 8, 8) and batch.labels.tolist() == [spec.dataset("val")[i]["labels"].item() for i in (0, 5, 7)]
    assert spec.image_shape == (1, 8, 8) and spec.input_shape == (1, 8, 8)
    assert spec.class_name(3) == "digit 3", "class names come from the dataset's `classes`"
    assert "DictDigitsDataModule" in spec.source and "pixel_values" in spec.source


def test_config_overrides_win_over_inference():
    overrides = DataSpecOverrides(label_key="none", image_shape=[8, 8], class_names=list("abcdefghij"), mean=0.5, std=0.25)
    spec = build_data_spec(datamodule=DictDigitsDataModule(), overrides=overrides)
    assert spec.label_key is None and spec.input_key == "pixel_values" and spec.image_shape == (1, 8, 8)
    assert spec.class_name(2) == "c" and spec.fetch(spec.dataset("val"), [0]).labels is None
    pixels = torch.rand(4, 1, 8, 8)
    assert torch.allclose(spec.to_pixels(spec.to_inputs(pixels)), pixels, atol=1e-6)
    with pytest.raises(ConfigError, match="needs labels"):
        spec.require_labels("linear_probe")


@pytest.mark.parametrize("overrides, message", [
    ({"mean": 0.5}, "give both mean and std"),
    ({"mean": 0.5, "std": 0}, "std must be > 0"),
    ({"image_shape": [2, 3, 4, 5]}, "image_shape must be"),
    ({"label": 1}, "unknown data_spec key 'label'"),
    ({"mean": float("nan"), "std": 1}, "data_spec.mean must be a finite number, got nan"),
    ({"mean": 0.5, "std": [0.2, float("inf")]}, "data_spec.std must be a finite number, got inf"),
    ({"mean": 0.5, "std": [0.2, 0.0, 0.2]}, "data_spec.std must be > 0, got 0.0"),
    ({"mean": [0.1, 0.2, 0.3], "std": [0.1, 0.2]}, "data_spec.mean has 3 values and data_spec.std 2"),
    ({"mean": [], "std": 1}, r"data_spec.mean must be one number or one per channel, got \[\]"),
    ({"class_names": ["zero", "o\x00ne"]}, r"data_spec.class_names\[1\] must not contain control characters"),
    ({"class_names": ["a\tb"]}, "control characters, got 'a\\\\tb'"),
    ({"class_names": "0123456789"}, "data_spec.class_names must be a list of names"),
    ({"input_key": ["pixel_values", "mask\n"]}, r"data_spec.input_key\[1\] must not contain control characters"),
    ({"label_key": "labels\r"}, "data_spec.label_key must not contain control characters"),
    ({"image_shape": [3, 100_000, 100_000]}, r"data_spec.image_shape \[3, 100000, 100000\] would allocate 112 GiB .* limit is 2 GiB"),
])
def test_bad_overrides_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_data_spec(datamodule=DictDigitsDataModule(), overrides=overrides)


@pytest.mark.parametrize("data", [DigitsDataModule, DictDigitsDataModule], ids=["registered", "inferred"])
@pytest.mark.parametrize("overrides, message", [
    ({"image_shape": [1, 8, 9]}, r"data_spec.image_shape \[1, 8, 9\] holds 72 values, but one input of .* has 64"),
    ({"mean": [0.5, 0.5, 0.5], "std": 0.2}, r"data_spec.mean has 3 values \[0.5, 0.5, 0.5\], but the images .* have 1 channel"),
    ({"mean": 0.5, "std": [0.2, 0.2]}, "data_spec.std has 2 values"),
    ({"class_names": list("abc")}, r"data_spec.class_names has 3 names \['a', 'b', 'c'\], but .* has 10 classes"),
    ({"class_names": list("abcdefghijklmn")}, r"has 14 names \[.*'l', '...'\], but .* has 10 classes"),
])
def test_overrides_that_contradict_the_data_fail_when_the_spec_is_built(data, overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_data_spec(datamodule=data(), overrides=overrides)


def test_overrides_that_fit_the_data_pass_and_class_names_must_fit_the_model():
    spec = build_data_spec(datamodule=DigitsDataModule(), overrides={"image_shape": [8, 8], "class_names": list("abcdefghij"),
                                                                     "mean": [0.5], "std": [0.25]})
    assert spec.num_classes == 10 and spec.given == {"image_shape", "class_names", "mean", "std"}
    spec.check_class_names(declared_classes(MLPClassifier(hidden_sizes=[4], in_features=64, num_classes=10)), "MLPClassifier")
    with pytest.raises(ConfigError, match="data_spec.class_names has 10 names .*, but MLPClassifier has 3 classes"):
        spec.check_class_names(declared_classes(MLPClassifier(hidden_sizes=[4], in_features=64, num_classes=3)), "MLPClassifier")
    assert declared_classes(torch.nn.Linear(2, 2)) is None, "a model that says nothing is not checked"


def test_registered_datamodule_gives_its_own_spec_with_exact_pixels():
    data = DigitsDataModule(flatten=True)
    spec = build_data_spec(datamodule=data)
    x, y = spec.dataset("test").tensors
    assert spec.input_shape == (64,) and spec.image_shape == (1, 8, 8) and spec.class_names[9] == "9"
    raw = DigitsDataModule(flatten=True, normalize=False)
    raw.setup()
    assert torch.allclose(spec.to_pixels(x).flatten(1), raw.dataset("test").tensors[0], atol=1e-5), "normalisation undone exactly"
    batch = spec.fetch(spec.dataset("test"), [3, 1])
    assert torch.equal(batch.inputs, x[[3, 1]]) and torch.equal(batch.labels, y[[3, 1]])


def test_no_data_is_an_error_only_when_read():
    spec = build_data_spec()
    with pytest.raises(ConfigError, match="no datamodule"):
        spec.dataset("val")


def test_bare_tensor_items_have_no_labels_and_stretched_pictures():
    class Images(TensorDataset):
        def __getitem__(self, index):
            return self.tensors[0][index]

    data = Images(torch.rand(6, 3, 4, 4) * 10 - 5)
    spec = build_data_spec(trainer=type("T", (), {"datamodule": None, "val_dataloaders": type("L", (), {"dataset": data})()})())
    assert spec.input_key is None and spec.label_key is None and spec.image_shape == (3, 4, 4)
    pixels = spec.to_pixels(spec.fetch(spec.dataset("val"), [0, 1]).inputs)
    assert pixels.min() == 0 and pixels.max() == 1, "unknown normalisation: each picture stretched to [0, 1]"


def test_a_built_spec_is_complete_and_cannot_be_changed():
    data = DictDigitsDataModule()
    spec = build_data_spec(datamodule=data, overrides={"class_names": [f"c{i}" for i in range(10)]})
    assert (spec.input_key, spec.label_key, spec.mask_key) == ("pixel_values", "labels", None), "inferred when built"
    assert spec.class_names[0] == "c0" and spec.num_classes == 10, "the config's names win over the dataset's"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.label_key = "other"  # type: ignore[misc]
    assert spec.dataset("val") is spec.dataset("val"), "a split's dataset is read once"
    assert spec == dataclasses.replace(spec, _cache={}), "the dataset cache is no value of the spec"
    assert DataSpec is type(spec), "probe authors' import path names the same class"


def test_models_and_probes_split_batches_by_one_rule():
    batch = {"pixel_values": torch.zeros(2, 1, 4, 4), "labels": torch.tensor([1, 2]), "attention_mask": torch.ones(2, 3)}
    spec = build_data_spec(trainer=type("T", (), {"datamodule": None, "val_dataloaders": type("L", (), {"dataset": [
        {key: value[0] for key, value in batch.items()}]})()})())
    inferred, read = batch_parts(batch), spec.split_batch(batch)
    assert spec.mask_key == "attention_mask" and spec.input_key == "pixel_values"
    assert torch.equal(inferred.labels, read.labels) and torch.equal(inferred.mask, read.mask) and inferred.inputs is read.inputs


def test_no_split_at_all_is_an_error_when_the_spec_is_built():
    with pytest.raises(ConfigError, match="has no val dataloader"):
        build_data_spec(trainer=type("T", (), {"datamodule": None})())
