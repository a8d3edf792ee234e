"""Third-party plugins found through the ``latent_probe.plugins`` entry point of a real distribution."""

import importlib
import sys
import textwrap

import pytest
from helpers.runs import run_subprocess

from latent_probe import registry

PLUGIN_MODULE = textwrap.dedent(
    '''
    """A plugin that registers one model."""
    import torch
    from latent_probe.models import ClassifierModule
    from latent_probe.registry import register_model

    @register_model()
    class PluginNet(ClassifierModule):
        """A model shipped by a third-party package."""

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.linear(x)

        def loss_and_predictions(self, x, y):
            logits = self(x)
            return torch.nn.functional.cross_entropy(logits, y), logits.argmax(-1)
    '''
)


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """A folder holding an installed-looking distribution ``lp-demo-plugin`` with an entry point."""
    site = tmp_path / "site"
    (site / "lp_demo_plugin").mkdir(parents=True)
    (site / "lp_demo_plugin" / "__init__.py").write_text(PLUGIN_MODULE)
    dist_info = site / "lp_demo_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: lp-demo-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[latent_probe.plugins]\ndemo = lp_demo_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    registry.MODELS.unregister("PluginNet")
    registry._loaded_plugins.pop("demo", None)
    sys.modules.pop("lp_demo_plugin", None)


def test_entry_point_plugin_registers_its_model(plugin_site):
    loaded = registry.load_plugins()
    assert loaded.get("demo") == "lp_demo_plugin"
    assert "PluginNet" in registry.list_models()


def test_env_var_switches_autoloading_off(plugin_site, monkeypatch):
    monkeypatch.setenv(registry.DISABLE_PLUGINS_ENV, "1")
    assert registry.load_plugins() == {}
    assert "PluginNet" not in registry.list_models()


def test_cli_lists_and_trains_plugin_model(plugin_site, tmp_path):
    env = {"PYTHONPATH": str(plugin_site)}
    listed = run_subprocess("list", "models", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "PluginNet" in listed.stdout and "A model shipped by a third-party package." in listed.stdout
    fit = run_subprocess(
        "fit", "--model", "PluginNet", "--data", "Toy2DDataModule", "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1", "--trainer.enable_progress_bar=false",
        cwd=tmp_path, env=env,
    )
    assert fit.returncode == 0, fit.stderr[-2000:]
    assert list((tmp_path / "runs" / "default").glob("version_0/checkpoints/last.ckpt"))


BROKEN = {
    "raises on import": "raise RuntimeError('broken on import')\n",
    "exits on import": "import sys\nsys.exit(3)\n",
    "register() raises": "def register():\n    raise ValueError('broken register')\n",
    "register() exits": "import sys\n\ndef register():\n    sys.exit('bye')\n",
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_plugin_is_skipped_with_a_warning_and_the_cli_goes_on(case, tmp_path):
    site = tmp_path / "site"
    (site / "lp_broken").mkdir(parents=True)
    (site / "lp_broken" / "__init__.py").write_text(BROKEN[case])
    dist_info = site / "lp_broken-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: lp-broken\nVersion: 0.1\n")
    target = "lp_broken:register" if "register" in case else "lp_broken"
    (dist_info / "entry_points.txt").write_text(f"[latent_probe.plugins]\nbroken = {target}\n")
    listed = run_subprocess("list", "probes", cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "EmbeddingDumper" in listed.stdout
    assert "plugin 'broken'" in listed.stderr and "failed to load and was skipped" in listed.stderr
