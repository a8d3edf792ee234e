"""Layer-transform recorder: steps in forward order, 2-D views, GIF frames, the decision boundary, fits end to end."""

import json

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from helpers.runs import assert_same_npz, fit_checkpoint, latest_run, post_hoc_moments, probe_on_one_and_two_processes
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from latent_probe.data.toy2d import Toy2DDataModule
from latent_probe.errors import ConfigError
from latent_probe.models.deep_mlp import DeepMLP
from latent_probe.probes.layer_transform import LayerTransformRecorder
from latent_probe.probing import Firing, prepare_probes
from latent_probe.viz.steps import Step, animation_frames, frame_schedule, view_2d

MOONS = ["--model", "DeepMLP", "--data", "Toy2DDataModule", "--data.kind", "moons", "--experiment", "moons"]


def set_up(probe: LayerTransformRecorder, model: nn.Module) -> LayerTransformRecorder:
    prepare_probes([probe], model, Toy2DDataModule(n_samples=40).data_spec())
    return probe


class Chain(pl.LightningModule):
    """Its modules called one after the other (a LightningModule, as probes expect)."""

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__()
        self.chain = nn.Sequential(*modules)

    def forward(self, x):
        return self.chain(x)


class ActivationFirst(pl.LightningModule):
    """Registers its activation before its affine map, but calls them the other way round."""

    def __init__(self) -> None:
        super().__init__()
        self.act = nn.Tanh()
        self.affine = nn.Linear(2, 2)
        self.head = nn.Linear(2, 1)

    def forward(self, x):
        return self.head(self.act(self.affine(x)))


class SharedActivation(pl.LightningModule):
    """One activation module used after two layers."""

    def __init__(self) -> None:
        super().__init__()
        self.first, self.second, self.act = nn.Linear(2, 2), nn.Linear(2, 2), nn.Tanh()

    def forward(self, x):
        return self.act(self.second(self.act(self.first(x))))


def test_deep_mlp_steps_alternate_affine_and_activation():
    probe = set_up(LayerTransformRecorder(), DeepMLP(width=2, depth=2))
    assert probe.layers == ["net.input_layer", "net.input_act", "net.hidden_layer1", "net.hidden_act1",
                            "net.hidden_layer2", "net.hidden_act2", "net.output_layer", "net.output_act"]
    kinds = [probe.kinds[path] for path in probe.layers]
    assert kinds[0::2] == ["Linear"] * 4 and kinds[1::2] == ["Tanh", "Tanh", "Tanh", "Sigmoid"]


def test_steps_follow_the_forward_call_order_not_registration():
    model = ActivationFirst()
    assert set_up(LayerTransformRecorder(), model).layers == ["affine", "act", "head"]
    assert set_up(LayerTransformRecorder(layers=["head", "act"]), model).layers == ["act", "head"]
    assert model.training, "the discovery pass must restore train mode"


def test_modules_that_cannot_be_steps_fail_at_setup():
    with pytest.raises(ConfigError, match="'act' is called 2 times"):
        set_up(LayerTransformRecorder(), SharedActivation())
    unused = Chain(nn.Linear(2, 1))
    unused.extra = nn.Linear(2, 2)
    assert set_up(LayerTransformRecorder(), unused).layers == ["chain.0"], "unused modules are dropped when not named"
    with pytest.raises(ConfigError, match="'extra' is never called by the model's forward pass"):
        set_up(LayerTransformRecorder(layers=["chain.0", "extra"]), unused)


def test_views_say_how_they_were_made():
    rng = np.random.default_rng(0)
    one, how_one = view_2d(rng.normal(size=(50, 1)))
    assert one.shape == (50, 2) and how_one.startswith("1-D")
    three = rng.normal(size=(50, 3))
    flat, how = view_2d(three)
    assert np.allclose(flat, three[:, :2]) and how == "x-y projection of 3-D"
    assert view_2d(rng.normal(size=(50, 7)))[1].startswith("PCA of 7-D")


def test_gif_frame_count():
    assert frame_schedule(3, frames_per_step=4, hold=1) == [
        (0, 0.0), (0, 0.0), (0, 0.25), (0, 0.5), (0, 0.75), (1, 0.0), (1, 0.0), (1, 0.25), (1, 0.5), (1, 0.75), (2, 0.0), (2, 0.0)]
    rng = np.random.default_rng(0)
    steps = [Step("input", "", rng.normal(size=(30, 2))), Step("a", "Linear", rng.normal(size=(30, 3))),
             Step("b", "Sigmoid", rng.uniform(size=(30, 1)))]
    frames = animation_frames(steps, np.arange(30) % 2, ["a", "b"], "t", frames_per_step=4, hold=1)
    assert len(frames) == 3 * (1 + 1) + 2 * (4 - 1)
    assert len({frame.shape for frame in frames}) == 1


def test_decision_boundary_of_a_known_model():
    model = Chain(nn.Linear(2, 1), nn.Sigmoid())
    with torch.no_grad():
        model.chain[0].weight.copy_(torch.tensor([[1.0, 0.0]]))
        model.chain[0].bias.zero_()
    probe = set_up(LayerTransformRecorder(boundary_resolution=20), model)
    last = Step("chain.1", "Sigmoid", np.zeros((4, 1)))
    boundary = probe._boundary(Firing(probe, "probe", None, model, None), torch.tensor([[-1.0, -2.0], [1.0, 2.0]]), last)
    assert boundary.level == 0.5 and boundary.values.shape == (20, 20)
    assert np.array_equal(boundary.values > 0.5, np.broadcast_to(boundary.xs > 0, (20, 20))), "x varies along columns"


def test_fit_writes_every_artifact_per_epoch(run_cli, tmp_path):
    spec = {"class_path": "LayerTransformRecorder",
            "init_args": {"every_n_epochs": 1, "max_samples": 80, "frames_per_step": 2, "hold": 0}}
    result = run_cli("fit", *MOONS, "--model.width=3", "--model.depth=1", "--probes", json.dumps([spec]), "--trainer.max_epochs=2")
    assert result.code == 0, result.err
    run = latest_run(tmp_path, "moons")
    folder = run / "probes" / "layer_transform_recorder"
    assert sorted(p.name for p in folder.iterdir()) == ["epoch=0000", "epoch=0001", "fit_end"]
    with np.load(folder / "fit_end" / "steps.npz") as npz:
        assert set(npz.files) == {"input", "label", "index", "net.input_layer", "net.input_act", "net.hidden_layer1",
                                  "net.hidden_act1", "net.output_layer", "net.output_act"}
        assert npz["input"].shape == (80, 2) and npz["net.hidden_act1"].shape == (80, 3) and npz["net.output_act"].shape == (80, 1)
    for name in ("steps.png", "steps_xy.png"):
        assert (folder / "fit_end" / name).stat().st_size > 5000
    gif = Image.open(folder / "fit_end" / "steps.gif")
    assert gif.n_frames == 7 + 6 * (2 - 1)  # input + 6 steps, one frame between consecutive steps
    events = EventAccumulator(str(run), size_guidance={"images": 0}).Reload()
    assert len(events.Images("layer_transform_recorder/steps")) == 2, "fit_end repeats the last epoch: logged once"


@pytest.mark.slow
def test_ddp_two_processes_equal_one(tmp_path):
    probes = ["--probes", json.dumps([
        {"class_path": "LayerTransformRecorder", "init_args": {"max_samples": 301, "gif": False}},
        {"class_path": "FilterTiler", "init_args": {"layers": ["net.input_layer", "net.hidden_layer1"], "compose": True,
                                                   "image_shape": [1, 2]}},
    ])]
    checkpoint = fit_checkpoint(tmp_path, "moons", *MOONS, *probes)
    folders = probe_on_one_and_two_processes(tmp_path, "moons", *MOONS, *probes, "--ckpt_path", checkpoint)
    for probe, npz in (("layer_transform_recorder", "steps.npz"), ("filter_tiler", "filters.npz")):
        one, two = post_hoc_moments(folders, probe)
        assert_same_npz(one / npz, two / npz)
    steps = np.load(post_hoc_moments(folders, "layer_transform_recorder")[1] / "steps.npz")
    assert len(steps["index"]) == 301 and len(set(steps["index"].tolist())) == 301
