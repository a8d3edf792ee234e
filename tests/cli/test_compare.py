"""``latent-probe compare``: two models of one architecture, layers x layers, both in one pass. Two seeds trained through
the real CLI give the matrix of Kornblith's tr(KHLH) on float64 forward passes of both checkpoints' weights; a model
against itself gives 1 on the diagonal; against ``initial`` it reads the weights the config builds; the moment goes into
A's run (``compare``, ``compare-2``, never overwritten) with the reference's file and sha256 in the manifest, in
TensorBoard and in report.html; a bad or hostile reference is one line, exit 2, nothing written."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from helpers.any_models import PlainAutoencoder
from helpers.cka_reference import digits_layers, reference_cka
from helpers.paths import CONFIGS, REPO
from helpers.probe_models import TinyDigitNet
from helpers.runs import SHRINK
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from latent_probe.cli.compare_args import compare_argv
from latent_probe.cli.main import main
from latent_probe.data import DigitsDataModule
from latent_probe.probing.initial_weights import model_tensors, weights_digest

LAYERS = ["hidden", "hidden_act", "bottleneck_act", "classifier"]
MODEL = ["--model", "helpers.probe_models.TinyDigitNet", "--data", "DigitsDataModule"]
RUN_A, RUN_B = Path("runs/a/version_0"), Path("runs/b/version_0")
CKPT_A = str(RUN_A / "checkpoints" / "last.ckpt")
COMPARE = ["compare", *MODEL, "--ckpt_path", CKPT_A, "--layers", json.dumps(LAYERS)]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Path:
    """Two runs of the digits net through the real CLI, seeds 1 and 2 (runs/a, runs/b), a few batches each (in this
    process: a subprocess would spend seconds importing torch and Lightning again)."""
    folder = tmp_path_factory.mktemp("seeds")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for name, seed in (("a", 1), ("b", 2)):
            main(["fit", *MODEL, "--experiment", name, "--seed_everything", str(seed), *SHRINK])
    return folder


@pytest.fixture
def runs(seeds, tmp_path) -> Path:
    """Both runs copied into the test's working folder."""
    shutil.copytree(seeds / "runs", tmp_path / "runs")
    return tmp_path


def similarity(folder: Path) -> dict[str, np.ndarray]:
    """A moment's ``similarity.npz``."""
    with np.load(folder / "similarity.npz") as npz:
        return {key: npz[key] for key in npz.files}


def forward(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """The digits net's layers on the whole validation split, in float64 NumPy from a state dict."""
    return digits_layers(state, np.arange(len(DigitsDataModule().dataset("val"))))


def expected(one: dict[str, np.ndarray], two: dict[str, np.ndarray]) -> np.ndarray:
    """tr(KHLH) CKA of each layer of ``one`` with each of ``two``."""
    return np.array([[reference_cka(one[x], two[y]) for y in LAYERS] for x in LAYERS])


def state_of(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, weights_only=True)["state_dict"]


def test_two_seeds_equal_forward_passes_of_both_checkpoints_and_write_into_a_run(runs, run_cli):
    folder = runs / RUN_A / "probes" / "model_similarity"
    for moment in ("compare", "compare-2"):
        result = run_cli(*COMPARE, "--reference", str(RUN_B))
        assert result.code == 0, result.err[-3000:]
        assert sorted(p.name for p in (runs / "runs" / "a").iterdir()) == ["version_0"], "into A's run, no new folder"
        assert (folder / moment / ".complete").is_file()
    result = similarity(folder / "compare")
    assert list(result["layers"]) == list(result["reference_layers"]) == LAYERS and int(result["n_samples"]) == 180
    reference = expected(forward(state_of(runs / CKPT_A)), forward(state_of(runs / RUN_B / "checkpoints" / "last.ckpt")))
    np.testing.assert_allclose(result["cka"], reference, rtol=0, atol=1e-6)
    assert np.abs(np.diag(result["cka"]) - 1).min() > 0.05, "two seeds differ: the test can tell the models apart"
    np.testing.assert_array_equal(similarity(folder / "compare-2")["cka"], result["cka"])
    about = json.loads((folder / "compare" / "manifest.json").read_text())["reference"]
    b_checkpoint = RUN_B / "checkpoints" / "last.ckpt"
    assert about["kind"] == "run folder" and about["file"] == str(b_checkpoint) and about["reference"] == str(RUN_B)
    assert about["sha256"] == "sha256:" + hashlib.sha256((runs / b_checkpoint).read_bytes()).hexdigest()
    assert about["weights_digest"] == weights_digest(digits_net_tensors(state_of(runs / b_checkpoint)))
    assert json.loads((folder / "compare" / "similarity.json").read_text())["reference"] == about
    assert (runs / RUN_A / "compare_config.yaml").is_file() and (runs / RUN_A / "compare-2_config.yaml").is_file()
    events = EventAccumulator(str(runs / RUN_A), size_guidance={"images": 0, "scalars": 0}).Reload()
    assert "model_similarity/cka" in events.Tags()["images"]
    assert events.Scalars("model_similarity/hidden/reference")[-1].value == np.float32(result["cka"][0, 0])
    assert "model_similarity" in (runs / RUN_A / "report.html").read_text()


def digits_net_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The digits net's parameters and buffers holding ``state`` (as the twin does)."""
    model = TinyDigitNet()
    model.load_state_dict(state)
    return model_tensors(model)


def test_a_model_against_itself_gives_one_on_the_diagonal(runs, run_cli):
    result = run_cli(*COMPARE, "--reference", CKPT_A)
    assert result.code == 0, result.err[-3000:]
    matrix = similarity(runs / RUN_A / "probes" / "model_similarity" / "compare")["cka"]
    np.testing.assert_allclose(np.diag(matrix), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(matrix, matrix.T, rtol=0, atol=1e-12)
    layers = forward(state_of(runs / CKPT_A))
    np.testing.assert_allclose(matrix, expected(layers, layers), rtol=0, atol=1e-6)


def test_against_initial_reads_the_weights_the_config_builds(runs, run_cli):
    result = run_cli(*COMPARE, "--reference", "initial")
    assert result.code == 0, result.err[-3000:]
    folder = runs / RUN_A / "probes" / "model_similarity" / "compare"
    pl.seed_everything(0)  # the CLI's default seed, before it builds the model
    built = TinyDigitNet()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["reference"]["kind"] == "initial"
    assert manifest["initial_weights"]["digest"] == weights_digest(model_tensors(built)), "the model as the config builds it"
    reference = expected(forward(state_of(runs / CKPT_A)), forward(built.state_dict()))
    np.testing.assert_allclose(similarity(folder)["cka"], reference, rtol=0, atol=1e-6)


def bad_references(folder: Path) -> dict[str, tuple[str, str]]:
    """Each bad reference, written into ``folder``: what to pass, and what the one error line says."""
    (folder / "not_a_run").mkdir()
    (folder / "not_a_run" / "config.yaml").write_text("model: DeepMLP\n")
    torch.save({"state_dict": PlainAutoencoder().state_dict(), "epoch": 0, "global_step": 3}, folder / "autoencoder.ckpt")
    (folder / "noise.ckpt").write_bytes((folder / RUN_B / "checkpoints" / "last.ckpt").read_bytes()[:300])  # cut short
    with open(folder / "pickled.ckpt", "wb") as handle:  # a Python object a weights_only load refuses (never unpickled)
        pickle.dump({"state_dict": {}, "hook": PlainAutoencoder}, handle, protocol=2)
    (folder / "outside.ckpt").write_bytes(b"x")
    (folder / "linked" / "checkpoints").mkdir(parents=True)
    (folder / "linked" / "checkpoints" / "last.ckpt").symlink_to(folder / "outside.ckpt")
    (folder / "notes.txt").write_text("weights?")
    valid = "give initial, a Lightning checkpoint (.ckpt), a run folder (its checkpoints/last.ckpt) or a weights file"
    return {
        "missing": ("runs/nowhere", f"reference 'runs/nowhere' not found; {valid}"),
        "a folder without a checkpoint": ("not_a_run", "reference 'not_a_run' is a folder without checkpoints/last.ckpt"),
        "another architecture": ("autoencoder.ckpt", "reference 'autoencoder.ckpt': checkpoint 'autoencoder.ckpt' does not fit "
                                                     "TinyDigitNet: missing ['bottleneck.bias'"),
        "not a checkpoint": ("noise.ckpt", "reference 'noise.ckpt': cannot read checkpoint 'noise.ckpt': the file is truncated"),
        "pickled code": ("pickled.ckpt", "reference 'pickled.ckpt': cannot read checkpoint 'pickled.ckpt': it holds pickled Python"),
        "a link leading out of a run": ("linked", "reference 'linked': 'linked/checkpoints/last.ckpt' is a symlink leading outside"),
        "not a weights file": ("notes.txt", f"reference 'notes.txt' is neither a run folder nor a file named as a checkpoint or "
                                            f"weights file; {valid}"),
    }


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.parametrize("case", ["missing", "a folder without a checkpoint", "another architecture", "not a checkpoint",
                                  "pickled code", "a link leading out of a run", "not a weights file"])
def test_a_bad_reference_is_one_line_and_nothing_is_written(case, runs, run_cli):
    reference, message = bad_references(runs)[case]
    before = snapshot(runs)
    result = run_cli(*COMPARE, "--reference", reference)
    assert result.code == 2 and result.err.startswith(f"latent-probe: error: {message}"), result.err[-2000:]
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert snapshot(runs) == before, "nothing written into A's run or anywhere else"


TIMM_BACKBONE = {"class_path": "latent_probe.models.backbones.timm_model",
                 "init_args": {"name": "resnet10t", "num_classes": 10, "in_chans": 1}}
STAGES = ["layer1", "layer2", "layer3", "layer4"]
TWIN = ["--model", "Classifier", "--model.backbone", json.dumps(TIMM_BACKBONE), "--data", "DigitsDataModule",
        "--experiment", "twin", "--weights", "one.safetensors"]


def timm_backbone(seed: int) -> torch.nn.Module:
    """timm's ResNet-10-T for 1-channel 8x8 digits, random weights from ``seed`` (nothing downloaded)."""
    import timm

    torch.manual_seed(seed)
    return timm.create_model("resnet10t", pretrained=False, num_classes=10, in_chans=1)


def stage_outputs(backbone: torch.nn.Module) -> dict[str, np.ndarray]:
    """Each stage's output on the validation digits, flattened, from a float64 forward pass with plain hooks."""
    dataset = DigitsDataModule().dataset("val")
    x = torch.stack([dataset[i][0] for i in range(len(dataset))]).double()
    outputs: dict[str, np.ndarray] = {}
    modules = dict(backbone.double().eval().named_modules())
    handles = [modules[stage].register_forward_hook(lambda m, i, o, s=stage: outputs.__setitem__(s, o.flatten(1).numpy()))
               for stage in STAGES]
    with torch.no_grad():
        backbone(x)
    for handle in handles:
        handle.remove()
    return outputs


def test_a_timm_backbone_against_its_weights_loaded_twin(tmp_path, run_cli):
    """Through `probe`'s probe option: two comparisons in one pass, one with the file the model loaded, one with another."""
    from safetensors.torch import save_file

    save_file(timm_backbone(1).state_dict(), str(tmp_path / "one.safetensors"))
    torch.save(timm_backbone(2).state_dict(), tmp_path / "two.pth")
    layers = [f"backbone.{stage}" for stage in STAGES]
    probes = [{"class_path": "ModelSimilarity", "init_args": {"reference": reference, "name": name, "layers": layers}}
              for name, reference in (("same", "one.safetensors"), ("other", "two.pth"))]
    result = run_cli("probe", *TWIN, "--probes", json.dumps(probes))
    assert result.code == 0, result.err[-3000:]
    folder = tmp_path / "runs" / "twin" / "version_0" / "probes"
    np.testing.assert_allclose(np.diag(similarity(folder / "same" / "probe")["cka"]), 1.0, rtol=0, atol=1e-12)
    about = json.loads((folder / "other" / "probe" / "manifest.json").read_text())["reference"]
    assert about["kind"] == "weights file"
    assert about["sha256"] == "sha256:" + hashlib.sha256((tmp_path / "two.pth").read_bytes()).hexdigest()
    one, two = stage_outputs(timm_backbone(1)), stage_outputs(timm_backbone(2))
    reference = np.array([[reference_cka(one[x], two[y]) for y in STAGES] for x in STAGES])
    np.testing.assert_allclose(similarity(folder / "other" / "probe")["cka"], reference, rtol=0, atol=1e-6)
    assert (np.diag(reference) < 0.99).all(), "two seeds' weights: the twin's file decides the columns"


def readme_commands() -> list[list[str]]:
    """The commands of the README's "Compare two models" section, as written."""
    text = (REPO / "README.md").read_text()
    block = text[text.index("## Compare two models"):].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split()[1:] for line in block.strip().splitlines()]


def test_the_readme_commands(tmp_path, run_cli):
    (tmp_path / "configs").symlink_to(CONFIGS)
    commands = readme_commands()
    assert [c[0] for c in commands] == ["fit", "fit", "compare"]
    for command in commands[:2]:  # trained shrunk, without the quickstart's own probes (pictures that take seconds)
        assert run_cli(*command, "--probes=[]").code == 0
    result = run_cli(*commands[2])
    assert result.code == 0, result.err[-3000:]
    folder = tmp_path / "runs" / "seed1" / "version_0" / "probes" / "model_similarity" / "compare"
    matrix = similarity(folder)
    tanh_layers = ["net.input_act", *(f"net.hidden_act{n}" for n in range(1, 11)), "net.output_act"]
    assert list(matrix["layers"]) == tanh_layers and matrix["cka"].shape == (12, 12) and int(matrix["n_samples"]) == 400
    assert (folder / "similarity.png").is_file()
    assert not (folder.parent.parent / "layer_similarity").exists(), "only the comparison ran, not the config's probes"


def test_compare_stands_for_probe_with_one_model_similarity_probe():
    argv = compare_argv(["--config", "a.yaml", "--reference", "runs/b/version_0", "--layers", "net.*", "--split=test",
                         "--max_samples", "500", "--trainer.devices=2"])
    probes = [{"class_path": "ModelSimilarity", "init_args": {"reference": "runs/b/version_0", "layers": ["net.*"],
                                                               "split": "test", "max_samples": 500}}]
    assert argv == ["probe", "--config", "a.yaml", "--trainer.devices=2", f"--probes={json.dumps(probes)}"]
