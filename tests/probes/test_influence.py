"""The influence mapper: batched maps against the seed's per-pixel loop, the first-layer shortcut, the probe end to end."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.paths import CONFIGS
from helpers.runs import assert_same_npz, latest_run, post_hoc_moments, probe_on_one_and_two_processes
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from latent_probe.errors import ConfigError
from latent_probe.models import MLPClassifier
from latent_probe.probes.influence.input_shortcut import input_linear
from latent_probe.probes.influence.mapper import one_per_class
from latent_probe.probes.influence.maps import influence_maps
from latent_probe.probing import recorded_outputs as capture_outputs

LAYERS = ["act1", "act2", "fc3"]
DIGIT_SHAPE = (1, 8, 8)


def small_mlp(seed: int = 0) -> MLPClassifier:
    """A 64-6-7-10 sigmoid MLP with weights large enough for pixels to matter."""
    torch.manual_seed(seed)
    model = MLPClassifier(hidden_sizes=[6, 7], in_features=64, num_classes=10)
    with torch.no_grad():
        for linear in model.linears:
            linear.weight.mul_(3)
            linear.bias.uniform_(-1, 1)
    return model.eval()


def sparse_images(n: int, shape: tuple[int, ...], seed: int = 1) -> torch.Tensor:
    """A white image, then ``n - 1`` random ones with about half their pixels at 0 (like digits)."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(n - 1, *shape, generator=generator)
    images[torch.rand(n - 1, *shape, generator=generator) < 0.5] = 0
    return torch.cat([torch.ones(1, *shape), images])


def naive_maps(model, inputs, reference, layers, image_shape, mode):
    """The seed's loop: one forward per input and pixel, every node read by hooks."""
    channels, height, width = image_shape
    maps = {path: [] for path in layers}
    with torch.no_grad(), capture_outputs(model, layers) as records:
        def nodes(image):
            model(image.reshape(1, *inputs.shape[1:]))
            return {path: records[path].pop().flatten() for path in layers}

        r = reference.reshape(channels, height * width)
        for x in inputs.reshape(len(inputs), channels, height * width):
            base = nodes(r if mode == "inclusion" else x)
            columns = {path: [] for path in layers}
            for p in range(height * width):
                changed = (r if mode == "inclusion" else x).clone()
                changed[:, p] = (x if mode == "inclusion" else r)[:, p]
                values = nodes(changed)
                for path in layers:
                    columns[path].append(values[path] - base[path] if mode == "inclusion" else base[path] - values[path])
            for path in layers:
                maps[path].append(torch.stack(columns[path], 1).reshape(-1, height, width))
    return {path: torch.stack(m) for path, m in maps.items()}


def max_diff(a: dict, b: dict) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.parametrize("mode", ["inclusion", "ablation"])
@pytest.mark.parametrize("reference", [0.0, 0.25])
@pytest.mark.parametrize("shortcut", [True, False], ids=["shortcut", "whole_model"])
def test_batched_maps_equal_the_per_pixel_loop(mode, reference, shortcut):
    model, inputs = small_mlp(), sparse_images(4, (64,))
    ref = torch.full((64,), reference)
    got = influence_maps(model, inputs, ref, LAYERS, DIGIT_SHAPE, mode, chunk_size=50, shortcut=shortcut)
    expected = naive_maps(model, inputs, ref, LAYERS, DIGIT_SHAPE, mode)
    assert {k: tuple(v.shape) for k, v in got.items()} == {"act1": (4, 6, 8, 8), "act2": (4, 7, 8, 8), "fc3": (4, 10, 8, 8)}
    assert max_diff(got, expected) <= 1e-5


def test_first_layer_is_the_closed_form():
    model, inputs = small_mlp(), sparse_images(3, (64,))
    got = influence_maps(model, inputs, torch.zeros(64), ["act1"], DIGIT_SHAPE)["act1"]
    w, b = model.fc1.weight.detach().t(), model.fc1.bias.detach()  # x·W + b layout: W[p] is pixel p's row
    closed = torch.sigmoid(b + inputs[:, :, None] * w[None]) - torch.sigmoid(b)  # (n, pixel, node)
    assert (got - closed.transpose(1, 2).reshape(3, 6, 8, 8)).abs().max().item() <= 1e-6


def test_shortcut_and_whole_model_agree_and_chunks_do_not_matter():
    model, inputs = small_mlp(), sparse_images(5, (64,))
    fast = influence_maps(model, inputs, torch.zeros(64), LAYERS, DIGIT_SHAPE, chunk_size=7)
    whole = influence_maps(model, inputs, torch.zeros(64), LAYERS, DIGIT_SHAPE, chunk_size=4096, shortcut=False)
    assert max_diff(fast, whole) <= 1e-6
    assert "forward" not in vars(model.fc1), "the replayed forward is removed again"


class SkipNet(nn.Module):
    """Reads its input twice: through fc1, and directly in the output (a skip connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(64, 5), nn.Linear(5, 2)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x))) + x.sum(1, keepdim=True)


class ScaledInputNet(nn.Module):
    """Preprocesses its input before the first linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 5)

    def forward(self, x):
        return self.fc1(x * 2)


def test_shortcut_is_taken_only_where_it_is_exact():
    example = torch.rand(1, 64)
    assert input_linear(small_mlp(), example, LAYERS) == "fc1"
    assert input_linear(small_mlp(), example, ["flatten", "fc3"]) is None, "flatten reads the input itself"
    assert input_linear(SkipNet(), example, ["fc2"]) == "fc1", "fc2 sees the input only through fc1"
    assert input_linear(SkipNet(), example, [""]) is None, "the output reads the input directly"
    assert input_linear(ScaledInputNet(), example, ["fc1"]) is None
    skip, inputs = SkipNet().eval(), sparse_images(3, (64,))
    got = influence_maps(skip, inputs, torch.zeros(64), [""], DIGIT_SHAPE)
    assert max_diff(got, naive_maps(skip, inputs, torch.zeros(64), [""], DIGIT_SHAPE, "inclusion")) <= 1e-5


@pytest.mark.parametrize("mode", ["inclusion", "ablation"])
def test_cnn_on_colour_images_equals_the_loop(mode):
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(64, 5)).eval()
    inputs, reference = sparse_images(3, (3, 6, 6)), torch.full((3, 6, 6), 0.1)
    got = influence_maps(cnn, inputs, reference, ["0", "3"], (3, 6, 6), mode, chunk_size=16)
    assert got["0"].shape == (3, 64, 6, 6) and got["3"].shape == (3, 5, 6, 6)
    assert max_diff(got, naive_maps(cnn, inputs, reference, ["0", "3"], (3, 6, 6), mode)) <= 1e-5


def test_integrated_gradients_add_up_and_equal_inclusion_on_a_linear_model():
    model, inputs = small_mlp(), sparse_images(3, (64,))
    reference = torch.zeros(64)
    maps = influence_maps(model, inputs, reference, LAYERS, DIGIT_SHAPE, "integrated_gradients", chunk_size=500, steps=64)
    with torch.no_grad(), capture_outputs(model, LAYERS) as records:
        model(inputs)
        model(reference[None])
    for path in LAYERS:
        at_input, at_reference = records[path]
        np.testing.assert_allclose(maps[path].sum((2, 3)), at_input - at_reference, atol=2e-3, err_msg=path)
    linear = nn.Sequential(nn.Linear(64, 4)).eval()
    ig = influence_maps(linear, inputs, reference, ["0"], DIGIT_SHAPE, "integrated_gradients", steps=4)
    assert max_diff(ig, influence_maps(linear, inputs, reference, ["0"], DIGIT_SHAPE)) <= 1e-5


def test_one_per_class_takes_classes_in_turn():
    labels = torch.tensor([3, 1, 1, 0, 3, 0, 2])
    assert one_per_class(labels, 6).tolist() == [3, 1, 6, 0, 5, 2]
    assert one_per_class(torch.rand(4), 2).tolist() == [0, 1], "no classes: the first ones"


def write_weights(model: MLPClassifier, folder: Path) -> Path:
    path = folder / "weights.npz"
    model.export_weights(path)
    return path


def influence_args(weights: Path, **init_args) -> list[str]:
    spec = {"class_path": "InfluenceMapper", "init_args": {"layers": LAYERS, "n_images": 2, **init_args}}
    return [
        "--model", "MLPClassifier", "--model.in_features=64", "--model.hidden_sizes=[6, 7]",
        f"--model.weights={weights}", "--data", "DigitsDataModule", "--data.flatten=true", "--data.normalize=false",
        "--experiment", "influence", "--probes", json.dumps([spec]),
    ]


def test_probe_subcommand_maps_external_weights_without_training(run_cli, tmp_path):
    model = small_mlp()
    drawn = np.zeros((8, 8), dtype=np.uint8)
    drawn[2:6, 3] = 255
    Image.fromarray(drawn).save(tmp_path / "stroke.png")
    result = run_cli("probe", *influence_args(write_weights(model, tmp_path), files=[str(tmp_path / "stroke.png")]))
    assert result.code == 0, result.err[-3000:]
    run = latest_run(tmp_path, "influence")
    folder = run / "probes" / "influence_mapper" / "probe"
    with np.load(folder / "influence.npz", allow_pickle=False) as npz:
        names = npz["input_names"].tolist()
        assert names[0] == "white" and names[-1] == "stroke" and len(names) == 4
        assert npz["inputs"].shape == (4, 1, 8, 8) and npz["reference"].shape == (1, 8, 8)
        assert npz["act1"].shape == (4, 6, 8, 8) and npz["act2"].shape == (4, 7, 8, 8) and npz["fc3"].shape == (4, 10, 8, 8)
        np.testing.assert_array_equal(npz["inputs"][-1, 0], drawn / 255.0)
        w, b = model.fc1.weight.detach().t().numpy(), model.fc1.bias.detach().numpy()
        x = npz["inputs"].reshape(4, 64, 1)
        closed = 1 / (1 + np.exp(-(b + x * w))) - 1 / (1 + np.exp(-b))
        np.testing.assert_allclose(npz["act1"], closed.transpose(0, 2, 1).reshape(4, 6, 8, 8), atol=1e-6)
    pictures = sorted(p.name for p in folder.glob("*.png"))
    assert len(pictures) == 12 and "white_act1.png" in pictures and "stroke_fc3.png" in pictures
    assert all((folder / p).stat().st_size > 5000 for p in pictures)
    report = json.loads((folder / "influence.json").read_text())
    assert report["mode"] == "inclusion" and report["layers"]["act2"]["nodes"] == 7
    events = EventAccumulator(str(run), size_guidance={"images": 0}).Reload()
    assert "influence_mapper/fc3/white" in events.Tags()["images"]


@pytest.mark.parametrize(
    ("init_args", "message"),
    [
        ({"mode": "inclussion"}, "inclussion"),
        ({"layers": []}, "InfluenceMapper needs `layers`"),
        ({"files": ["absent.png"]}, "input image file not found: 'absent.png'"),
        ({"white": False, "n_images": 0}, "no input to map"),
    ],
    ids=["mode", "layers", "file", "nothing"],
)
def test_bad_options_are_one_line_errors(run_cli, tmp_path, init_args, message):
    result = run_cli("probe", *influence_args(write_weights(small_mlp(), tmp_path), **init_args))
    assert result.code == 2 and "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.startswith("latent-probe: error:")]
    assert len(lines) == 1 and message in lines[0]


def test_inputs_that_are_not_images_are_reported_at_setup(run_cli):
    spec = json.dumps([{"class_path": "InfluenceMapper", "init_args": {"layers": ["*"]}}])
    result = run_cli("fit", "--config", str(CONFIGS / "quickstart.yaml"), "--probes", spec)
    assert result.code == 2
    assert "needs the inputs' image shape" in result.err and "HINT: set data_spec.image_shape (or the probe's image_shape)" in result.err


def test_image_shape_that_does_not_fit_the_inputs_raises_config_error():
    from latent_probe.dataspec import DataSpec

    with pytest.raises(ConfigError, match="does not hold the model's 784 input values"):
        DataSpec(datasets=lambda split: [], input_shape=(784,)).require_image_shape("influence_mapper", (1, 8, 8))


@pytest.mark.slow
def test_ddp_two_processes_equal_one(tmp_path):
    args = influence_args(write_weights(small_mlp(), tmp_path), n_images=3)
    one, two = post_hoc_moments(probe_on_one_and_two_processes(tmp_path, "influence", *args), "influence_mapper")
    assert_same_npz(one / "influence.npz", two / "influence.npz", atol=1e-6)
    assert sorted(p.name for p in one.glob("*.png")) == sorted(p.name for p in two.glob("*.png"))
