"""Quiet by default (issue 25): a run prints the model summary, the probes' summary line and where the run is, nothing
of Lightning's advertisements, hardware inventory, 'Skipping' notes or deprecation warnings; ``--verbose`` or
``LATENT_PROBE_VERBOSE=1`` brings them back. The filters live at the entry point only, never on import."""

from __future__ import annotations

import logging
import re
import warnings

from helpers.paths import CONFIGS
from helpers.runs import TINY_FIT, run_subprocess

from latent_probe.cli.display import summary_totals, useful_columns
from latent_probe.cli.quiet import DROPPED_INFO, VERBOSE_ENV, quiet_unless_verbose, split_verbose

# Bar off (its lines are not checked here), 2 validation batches, a logging interval the 3 batches reach.
QUICK = ["fit", "--config", str(CONFIGS / "quickstart.yaml"), *TINY_FIT, "--trainer.limit_val_batches=2",
         "--trainer.log_every_n_steps=1"]
EXPECTED = [
    "┏━━━┳━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━┓",
    "┃   ┃ Name ┃ Type       ┃ Params ┃ FLOPs ┃ In sizes ┃ Out sizes ┃",
    "┡━━━╇━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━┩",
    "│ 0 │ net  │ Sequential │    133 │   396 │   [2, 2] │    [2, 1] │",
    "└───┴──────┴────────────┴────────┴───────┴──────────┴───────────┘",
    "Trainable params: 133",
    "Non-trainable params: 0",
    "Total params: 133",
    "Total estimated model params size (MB): 0.001",
    "Total FLOPs: 396",
    "probes at fit_end: layer_transform_recorder, layer_similarity -> runs/quickstart/version_0/probes (T s)",
    "Run:         runs/quickstart/version_0",
    "Report:      runs/quickstart/version_0/report.html",
    "TensorBoard: tensorboard --logdir runs",
]
LIGHTNING_LINES = ("GPU available: ", "TPU available: ", "💡 Tip: For seamless cloud logging", "Seed set to 0",
                   "Skipping setting a default `ModelSummary` callback", "`isinstance(treespec, LeafSpec)` is deprecated",
                   "`Trainer.fit` stopped: `max_epochs=1` reached.")


def printed_lines(text: str) -> list[str]:
    """Non-empty lines, right-stripped, with the seconds of a probe summary replaced by T."""
    return [re.sub(r"\(\d+\.\d s", "(T s", line.rstrip()) for line in text.splitlines() if line.strip()]


def test_the_quickstart_prints_exactly_what_a_researcher_wants(tmp_path):
    done = run_subprocess(*QUICK, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert printed_lines(done.stderr) == []
    assert printed_lines(done.stdout) == EXPECTED


def test_verbose_brings_lightnings_lines_back(tmp_path):
    done = run_subprocess("--verbose", *QUICK, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for line in LIGHTNING_LINES:
        assert line in done.stderr, line
    assert "┃ Mode  ┃" in done.stdout and "Modules in eval mode: 0" in done.stdout  # Lightning's own summary


def test_the_flag_goes_before_the_subcommand():
    assert split_verbose(["--verbose", "fit", "--config", "x.yaml"]) == (["fit", "--config", "x.yaml"], True)
    assert split_verbose(["fit", "--config", "x.yaml"]) == (["fit", "--config", "x.yaml"], False)


def emitted(caplog, verbose: bool = False) -> tuple[list[str], list[str]]:
    """What Lightning's loggers and warnings let through inside ``quiet_unless_verbose``: (log lines, warnings)."""
    rank_zero = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    with caplog.at_level(logging.INFO), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_unless_verbose(verbose):
            for message in ("GPU available: False, used: False", "💡 Tip: For seamless cloud uploads and versioning, try",
                            "Restoring states from the checkpoint path at x.ckpt", "`Trainer.fit` stopped: No training batches."):
                rank_zero.info(message)
            logging.getLogger("lightning_fabric.utilities.seed").info("[rank: 1] Seed set to 3")
            exec(compile("import warnings\nwarnings.warn('`isinstance(treespec, LeafSpec)` is deprecated, use x', FutureWarning)",
                         "_pytree.py", "exec"), {"__name__": "pytorch_lightning.utilities._pytree"})
            warnings.warn("weights 'w.pt': loaded what fits", UserWarning, stacklevel=1)  # our own: kept
    return [r.getMessage() for r in caplog.records], [str(w.message) for w in caught]


def test_only_the_named_lines_and_warnings_are_dropped(caplog, monkeypatch):
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    logs, caught = emitted(caplog)
    assert logs == ["Restoring states from the checkpoint path at x.ckpt", "`Trainer.fit` stopped: No training batches."]
    assert caught == ["weights 'w.pt': loaded what fits"]


def test_the_environment_or_the_flag_shows_everything(caplog, monkeypatch):
    logs, caught = emitted(caplog, verbose=True)
    assert len(logs) == 5 and len(caught) == 2
    caplog.clear()
    monkeypatch.setenv(VERBOSE_ENV, "1")
    logs, caught = emitted(caplog)
    assert len(logs) == 5 and len(caught) == 2


def test_nothing_is_filtered_outside_the_command():
    import latent_probe.cli  # noqa: F401  importing the library installs nothing

    assert not any(logging.getLogger(name).filters for name in DROPPED_INFO)
    assert not any("_pytree" in str(getattr(f[3], "pattern", f[3])) for f in warnings.filters)
    with quiet_unless_verbose():
        assert all(logging.getLogger(name).filters for name in DROPPED_INFO)
    assert not any(logging.getLogger(name).filters for name in DROPPED_INFO)


def test_columns_and_totals_that_say_nothing_are_left_out():
    data = [(" ", ["0", "1"]), ("Name", ["a", "b"]), ("Mode", ["train", "train"]), ("FLOPs", ["0", "0"])]
    assert [name for name, _ in useful_columns(data)] == [" ", "Name"]
    data = [("Mode", ["train", "eval"]), ("FLOPs", ["0", "12"])]
    assert [name for name, _ in useful_columns(data)] == ["Mode", "FLOPs"]
    labels = [label for label, _ in summary_totals(10, 10, 0.0, {"train": 3, "eval": 0}, 0)]
    assert "Total FLOPs" not in labels and "Modules in eval mode" not in labels
    labels = [label for label, _ in summary_totals(10, 4, 0.0, {"train": 3, "eval": 1}, 7)]
    assert {"Total FLOPs", "Modules in eval mode", "Modules in train mode"} <= set(labels)


def test_the_progress_bar_shows_no_version(monkeypatch):
    from types import SimpleNamespace

    from latent_probe.cli.display import RunProgressBar

    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    trainer = SimpleNamespace(loggers=[SimpleNamespace(version=0)], progress_bar_metrics={"val/acc": 0.5})
    assert RunProgressBar().get_metrics(trainer, None) == {"val/acc": 0.5}
    with quiet_unless_verbose(verbose=True):
        assert RunProgressBar().get_metrics(trainer, None) == {"v_num": 0, "val/acc": 0.5}
