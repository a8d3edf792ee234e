"""docs/plugins.md's example plugin, installed as a real package into a temporary path and run by the CLI."""

import json
import subprocess
import sys

import pytest
from helpers.paths import CONFIGS, REPO
from helpers.runs import latest_run, run_subprocess

PLUGIN = REPO / "examples" / "latent-probe-example-plugin"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """``pip install --target`` the example plugin (no network: no dependencies, no build isolation)."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(PLUGIN)],
        check=True, capture_output=True, text=True,
    )
    assert list(site.glob("latent_probe_example_plugin-*.dist-info/entry_points.txt"))
    return site


def test_installed_plugin_is_listed(plugin_site, tmp_path):
    listed = run_subprocess("list", "probes", cwd=tmp_path, env={"PYTHONPATH": str(plugin_site)})
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == ["probe", "ActivationStats"] for line in listed.stdout.splitlines())


def test_installed_plugin_runs_through_the_cli(plugin_site, tmp_path):
    probes = json.dumps([{"class_path": "ActivationStats", "init_args": {"layers": ["net.*_act*"], "max_samples": 100}}])
    done = run_subprocess(
        "fit", "--config", str(CONFIGS / "quickstart.yaml"), "--probes", probes, "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=2", "--trainer.enable_progress_bar=false",
        cwd=tmp_path, env={"PYTHONPATH": str(plugin_site)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    stats = json.loads((latest_run(tmp_path, "quickstart") / "probes" / "activation_stats" / "fit_end" / "stats.json").read_text())
    assert "net.output_act" in stats and 0 <= stats["net.output_act"]["mean"] <= 1
