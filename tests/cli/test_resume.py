"""Interrupted runs: SIGKILL then `--ckpt_path last` equals an uninterrupted run; SIGTERM saves a checkpoint."""

import json
import shutil
import signal

import numpy as np
import pytest
import torch
from helpers.paths import CONFIGS
from helpers.runs import SUBPROCESS_ENV, latest_run, run_subprocess
from helpers.tensorboard_projector import load_with_tensorboard
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from latent_probe.artifacts.writer import is_complete

QUICK = ["--config", str(CONFIGS / "quickstart.yaml"), "--trainer.max_epochs=4", "--trainer.enable_progress_bar=false",
         "--data.init_args.n_samples=400"]
DUMP = {"class_path": "EmbeddingDumper", "init_args": {"layers": ["net.hidden_act1"], "every_n_epochs": 1, "max_samples": 100,
                                                       "pictures": False, "metrics": False}}
ENV = SUBPROCESS_ENV


# Test callbacks that kill or signal their own process (helpers/probe_models.py): trainer callbacks, run after the probes.
CALLBACKS = ("KillAtEpochEnd", "TermAtStep", "KillDuringWrite")


def fit(cwd, *specs, extra=()):
    """``latent-probe fit`` of the quickstart with ``specs``: probes, and the test's killer callbacks."""
    callbacks = [spec for spec in specs if spec["class_path"].rsplit(".", 1)[-1] in CALLBACKS]
    probes = [spec for spec in specs if spec not in callbacks]
    options = ["--trainer.callbacks", json.dumps(callbacks)] if callbacks else []
    return run_subprocess("fit", *QUICK, "--probes", json.dumps(probes), *options, *extra, cwd=cwd, env=ENV)


def final_values(run):
    events = EventAccumulator(str(run)).Reload()
    return {tag: events.Scalars(tag)[-1].value for tag in ("val/acc", "val/loss")}


def state(run):
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The run every interrupted-and-resumed run must end up equal to (trained once for the whole module)."""
    folder = tmp_path_factory.mktemp("straight")
    assert fit(folder, DUMP).returncode == 0
    return latest_run(folder, "quickstart")


def test_sigkill_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
    broken = tmp_path / "broken"
    broken.mkdir()
    killed = fit(broken, DUMP, {"class_path": "helpers.probe_models.KillAtEpochEnd", "init_args": {"epoch": 1}})
    assert killed.returncode == -signal.SIGKILL
    run = latest_run(broken, "quickstart")
    written = run / "probes" / "embedding_dumper" / "epoch=0001" / "embeddings.npz"
    before = written.stat().st_mtime_ns
    resumed = fit(broken, DUMP, extra=["--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert latest_run(broken, "quickstart") == run, "the resumed run must continue in its own folder"
    expected, got = state(uninterrupted), state(run)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-6, msg=key)
    assert final_values(run) == final_values(uninterrupted)
    moments = sorted(p.name for p in (run / "probes" / "embedding_dumper").iterdir())
    assert moments == ["epoch=0000", "epoch=0001", "epoch=0002", "epoch=0003", "fit_end"]
    assert written.stat().st_mtime_ns == before, "a moment written before the kill must not be rewritten"
    config, _ = load_with_tensorboard(run)
    assert len(config.embeddings) == 5, "the projector must still show the embeddings written before the kill"
    with np.load(written) as npz:
        assert npz["net.hidden_act1"].shape == (80, 3)  # all 80 val points of 400


def test_sigterm_mid_epoch_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
    broken = tmp_path / "broken"
    broken.mkdir()
    # 320 training points in batches of 16: step 27 is the 7th batch of epoch 1.
    stopped = fit(broken, DUMP, {"class_path": "helpers.probe_models.TermAtStep", "init_args": {"step": 27}})
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-3000:]
    run = latest_run(broken, "quickstart")
    assert torch.load(run / "checkpoints" / "interrupted.ckpt", weights_only=True)["global_step"] == 27
    resumed = fit(broken, DUMP, extra=["--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "not resumable" not in resumed.stderr
    expected, got = state(uninterrupted), state(run)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-6, msg=key)
    assert final_values(run) == final_values(uninterrupted)


def kill_during_write_then_resume(tmp_path, file_name, signal_name="SIGKILL"):
    """Kill (or signal) a run while it writes ``file_name`` in epoch 1, resume it; returns the resumed run."""
    broken = tmp_path / "broken"
    broken.mkdir()
    killer = {"class_path": "helpers.probe_models.KillDuringWrite",
              "init_args": {"epoch": 1, "file_name": file_name, "signal_name": signal_name}}
    stopped = fit(broken, DUMP, killer)
    run = latest_run(broken, "quickstart")
    if signal_name == "SIGKILL":
        assert stopped.returncode == -signal.SIGKILL
        assert list(run.rglob(f".{file_name}.*.tmp")), "the kill must leave a half-written temp file behind"
    else:
        assert stopped.returncode == 128 + getattr(signal, signal_name), stopped.stderr[-3000:]
        lines = [line for line in stopped.stderr.splitlines() if line.startswith("latent-probe:")]
        assert len(lines) == 1 and "--ckpt_path last" in lines[0] and "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    resumed = fit(broken, DUMP, extra=["--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return run


def assert_same_run(expected, got):
    """Same final weights, metrics and complete probe moments, and no temp file left anywhere."""
    for key, value in state(expected).items():
        torch.testing.assert_close(state(got)[key], value, rtol=0, atol=1e-6, msg=key)
    assert final_values(got) == final_values(expected)
    moments = sorted(p.name for p in (got / "probes" / "embedding_dumper").iterdir())
    assert moments == ["epoch=0000", "epoch=0001", "epoch=0002", "epoch=0003", "fit_end"]
    assert all(is_complete(got / "probes" / "embedding_dumper" / moment) for moment in moments)
    for moment in moments:
        with np.load(expected / "probes/embedding_dumper" / moment / "embeddings.npz") as one, \
                np.load(got / "probes/embedding_dumper" / moment / "embeddings.npz") as two:
            np.testing.assert_allclose(two["net.hidden_act1"], one["net.hidden_act1"], atol=1e-6, err_msg=moment)
    assert not list(got.rglob("*.tmp")), "temp files of the killed write must be gone"


def test_kill_during_an_artifact_write_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
    assert_same_run(uninterrupted, kill_during_write_then_resume(tmp_path, "embeddings.npz"))


def test_kill_during_a_checkpoint_write_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
    assert_same_run(uninterrupted, kill_during_write_then_resume(tmp_path, "last.ckpt"))


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("file_name", ["embeddings.npz", "last.ckpt"])
def test_interrupt_during_a_write_then_resume_equals_uninterrupted(signal_name, file_name, tmp_path, uninterrupted):
    assert_same_run(uninterrupted, kill_during_write_then_resume(tmp_path, file_name, signal_name))


def test_resume_without_a_previous_run_is_a_clean_error(tmp_path):
    done = fit(tmp_path, DUMP, extra=["--ckpt_path", "last"])
    assert done.returncode == 2 and "no run under" in done.stderr and "Traceback" not in done.stderr


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    done = fit(tmp_path, {"class_path": "helpers.probe_models.TermAtStep", "init_args": {"step": 5}})
    assert done.returncode == 128 + signal.SIGTERM, done.stderr[-3000:]
    assert "stopped by SIGTERM" in done.stderr and "Traceback" not in done.stderr
    checkpoint = latest_run(tmp_path, "quickstart") / "checkpoints" / "interrupted.ckpt"
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["global_step"] >= 5 and saved["state_dict"]


def test_ctrl_c_saves_a_checkpoint_and_ends_in_one_line(tmp_path):
    done = fit(tmp_path, {"class_path": "helpers.probe_models.TermAtStep", "init_args": {"step": 5, "signal_name": "SIGINT"}})
    assert done.returncode == 128 + signal.SIGINT, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("latent-probe:")]
    assert lines == [lines[0]] and "stopped by Ctrl-C" in lines[0] and "--ckpt_path last" in lines[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert (latest_run(tmp_path, "quickstart") / "checkpoints" / "interrupted.ckpt").is_file()


def test_last_never_continues_an_older_run_when_the_newest_died_before_a_checkpoint(tmp_path):
    assert fit(tmp_path, DUMP, extra=["--trainer.max_epochs=1"]).returncode == 0
    finished = latest_run(tmp_path, "quickstart")
    (finished.parent / "version_1").mkdir()  # a newer run killed before its first checkpoint leaves just its folder
    config_before = (finished / "config.yaml").read_text()
    done = fit(tmp_path, DUMP, extra=["--ckpt_path", "last"])
    assert done.returncode == 2 and "the newest run" in done.stderr and "version_1" in done.stderr, done.stderr[-2000:]
    assert (finished / "config.yaml").read_text() == config_before


def test_training_a_finished_run_further_redoes_fit_end(tmp_path):
    assert fit(tmp_path, DUMP, extra=["--trainer.max_epochs=1"]).returncode == 0
    run = latest_run(tmp_path, "quickstart")
    fit_end = run / "probes" / "embedding_dumper" / "fit_end"
    first = json.loads((fit_end / "manifest.json").read_text())["step"]
    (fit_end / "stale_extra.txt").write_text("left by the first fit")
    more = fit(tmp_path, DUMP, extra=["--trainer.max_epochs=2", "--ckpt_path", "last"])
    assert more.returncode == 0, more.stderr[-3000:]
    assert latest_run(tmp_path, "quickstart") == run
    assert json.loads((fit_end / "manifest.json").read_text())["step"] == 2 * first, "fit_end redone with the new weights"
    assert not (fit_end / "stale_extra.txt").exists(), "nothing of the stale moment stays"
    assert sorted(p.name for p in (run / "probes" / "embedding_dumper").iterdir()) == ["epoch=0000", "epoch=0001", "fit_end"]


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A run killed (SIGKILL) at the end of epoch 1, before its last.ckpt of that epoch: copied by each test below."""
    folder = tmp_path_factory.mktemp("killed")
    killer = {"class_path": "helpers.probe_models.KillAtEpochEnd", "init_args": {"epoch": 1}}
    assert fit(folder, DUMP, killer).returncode == -signal.SIGKILL
    return folder


def symlinked_folder(cwd):
    (cwd / "link").symlink_to(cwd / "runs" / "quickstart", target_is_directory=True)
    return "link/version_0/checkpoints/last.ckpt"


def symlinked_file(cwd):
    (cwd / "my.ckpt").symlink_to(cwd / "runs" / "quickstart" / "version_0" / "checkpoints" / "last.ckpt")
    return "my.ckpt"


def moved_folder(cwd):
    (cwd / "received").mkdir()
    (cwd / "runs").rename(cwd / "received" / "runs")
    return "received/runs/quickstart/version_0/checkpoints/last.ckpt"


SPELLINGS = {
    "absolute": lambda cwd: str(cwd / "runs" / "quickstart" / "version_0" / "checkpoints" / "last.ckpt"),
    "relative with ..": lambda cwd: "runs/quickstart/../quickstart/version_0/checkpoints/../checkpoints/last.ckpt",
    "through a symlinked folder": symlinked_folder,
    "a symlink to the checkpoint": symlinked_file,
    "a run folder moved elsewhere": moved_folder,
}


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_resume_by_any_spelling_keeps_last_ckpt_current(spelling, killed, tmp_path, uninterrupted):
    broken = tmp_path / "broken"
    shutil.copytree(killed, broken, symlinks=True)
    resumed = fit(broken, DUMP, extra=["--ckpt_path", SPELLINGS[spelling](broken)])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "dirpath has changed" not in resumed.stderr
    run = next(broken.rglob("version_0"))
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"], "the run continues in its own folder"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch=3-step=60.ckpt", "last.ckpt"], "no last-v1.ckpt"
    assert_same_run(uninterrupted, run)
    if spelling == "absolute":  # what `--ckpt_path last` finds afterwards is the newest state
        done = run_subprocess("validate", *QUICK, "--ckpt_path", "last", cwd=broken, env=ENV)
        assert done.returncode == 0, done.stderr[-3000:]
        validated = final_values(broken / "runs" / "quickstart" / "version_1")
        assert validated == pytest.approx(final_values(uninterrupted), abs=1e-6)


def test_a_forged_best_k_models_entry_is_never_deleted(killed, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(killed, broken)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    last = broken / "runs" / "quickstart" / "version_0" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    key = next(k for k in checkpoint["callbacks"] if k.startswith("ModelCheckpoint"))
    forged = f"runs/quickstart/version_0/checkpoints/../../../../../{victim.name}"
    checkpoint["callbacks"][key].update(best_k_models={forged: torch.tensor(0.0)}, kth_best_model_path=forged,
                                        last_model_path=forged, best_model_path=forged)
    torch.save(checkpoint, last)
    resumed = fit(broken, DUMP, extra=["--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_interrupt_at_setup_is_one_line_and_leaves_no_run_folder(signal_name, tmp_path):
    done = fit(tmp_path, {"class_path": "helpers.probe_models.SignalAtSetup", "init_args": {"signal_name": signal_name}})
    assert done.returncode == 128 + getattr(signal, signal_name), done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("latent-probe:")]
    assert len(lines) == 1 and "run the same command again" in lines[0] and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_while_fit_end_is_written_then_resume_redoes_it(tmp_path, uninterrupted):
    at_fit_end = {**DUMP, "init_args": {**DUMP["init_args"], "every_n_epochs": 0}}
    killer = {"class_path": "helpers.probe_models.KillDuringWrite",
              "init_args": {"epoch": 3, "file_name": "embeddings.npz", "signal_name": "SIGINT"}}
    stopped = fit(tmp_path, at_fit_end, killer)
    assert stopped.returncode == 128 + signal.SIGINT, stopped.stderr[-3000:]
    run = latest_run(tmp_path, "quickstart")
    assert not is_complete(run / "probes" / "embedding_dumper" / "fit_end")
    resumed = fit(tmp_path, at_fit_end, extra=["--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    fit_end = run / "probes" / "embedding_dumper" / "fit_end"
    assert is_complete(fit_end)
    with np.load(uninterrupted / "probes/embedding_dumper/fit_end/embeddings.npz") as one, \
            np.load(fit_end / "embeddings.npz") as two:
        np.testing.assert_allclose(two["net.hidden_act1"], one["net.hidden_act1"], atol=1e-6)
