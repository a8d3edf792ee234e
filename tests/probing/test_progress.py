"""Probe progress (issue 25): on a terminal a rich display of the moment, the probe and each pass, collapsing to one
summary line; in a pipe plain lines only, no control characters; with the progress bar off the summary line alone;
nothing on ranks other than 0."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from types import SimpleNamespace

from helpers.paths import CONFIGS
from helpers.runs import SUBPROCESS_ENV

from latent_probe.probing.progress import LIVE, PLAIN, SILENT, SUMMARY, MomentProgress, display_style

# The quickstart with the progress bar on, for a few batches: its layer_transform_recorder and layer_similarity fire at fit_end.
QUICK = [sys.executable, "-m", "latent_probe.cli", "fit", "--config", str(CONFIGS / "quickstart.yaml"), "--trainer.max_epochs=1",
         "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=2", "--trainer.log_every_n_steps=1"]
SUMMARY_LINE = "probes at fit_end: layer_transform_recorder, layer_similarity -> runs/quickstart/version_0/probes ("


def environment() -> dict[str, str]:
    env = {**os.environ, **SUBPROCESS_ENV, "COLUMNS": "120", "TERM": "xterm"}
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        env.pop(name, None)
    return env


def test_in_a_pipe_the_firing_prints_plain_lines(tmp_path):
    done = subprocess.run(QUICK, cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("probes at fit_end: pass over val, 400 samples in ") and line.endswith(" samples/s")
               for line in lines), done.stdout
    assert any(line.startswith(SUMMARY_LINE) for line in lines), done.stdout
    assert "\x1b" not in done.stdout and "\x1b" not in done.stderr


def test_on_a_terminal_the_firing_shows_a_live_display(tmp_path):
    primary, secondary = pty.openpty()
    process = subprocess.Popen(QUICK, cwd=tmp_path, env=environment(), stdin=subprocess.DEVNULL, stdout=secondary,
                               stderr=secondary, close_fds=True)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert process.wait(timeout=300) == 0
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert "\x1b[" in shown  # drawn as a live display
    assert "probes at fit_end: layer_transform_recorder (1/2)" in shown and "pass over val" in shown and "/400" in shown
    assert SUMMARY_LINE in shown
    assert "probes at fit_end: pass over val, 400 samples in" not in shown  # the plain line is for pipes only


def fire(style: str, fail: bool = False) -> None:
    with MomentProgress("epoch=0001", ["a", "b"], "runs/x/version_0", style) as progress:
        progress.computing("a")
        advance = progress.pass_over("val", 10)
        advance(6)
        advance(4)
        progress.finished("a", True)
        progress.computing("b")
        progress.finished("b", not fail)


def test_plain_summary_and_silent_styles(capsys):
    fire(PLAIN)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("probes at epoch=0001: pass over val, 10 samples in ")
    assert lines[1].startswith(f"probes at epoch=0001: a, b -> {os.path.join('runs/x/version_0', 'probes')} (")
    fire(SUMMARY, fail=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("probes at epoch=0001: a -> ") and lines[0].endswith("; failed: b)")
    fire(SILENT)
    assert capsys.readouterr().out == ""


def test_the_style_follows_the_rank_and_the_progress_bar():
    assert display_style(SimpleNamespace(is_global_zero=False, progress_bar_callback=object())) == SILENT
    assert display_style(SimpleNamespace(is_global_zero=True, progress_bar_callback=None)) == SUMMARY
    assert display_style(SimpleNamespace(is_global_zero=True, progress_bar_callback=object())) in (LIVE, PLAIN)
