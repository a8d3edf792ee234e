"""The config a run saves beside its results: without ``ckpt_path``, and one file per post-hoc probe moment.

A saved ``config.yaml`` is meant to be given again (``probe --config RUN/config.yaml --ckpt_path ...``); a saved
``ckpt_path: null`` in it would reset a checkpoint given before it. A post-hoc run writes moment ``probe``, then
``probe-2``, ...: each keeps the config that made it (``probe_config.yaml``, ``probe-2_config.yaml``, ...).
"""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.cli import SaveConfigCallback

NOT_SAVED = ("ckpt_path",)  # what one command line chose to load, not how the run is configured


def moment_config_name(moment: str) -> str:
    """``probe_config.yaml`` for moment ``probe``, ``probe-2_config.yaml`` for ``probe-2``."""
    return f"{moment}_config.yaml"


class SaveRunConfig(SaveConfigCallback):
    """LightningCLI's ``SaveConfigCallback`` leaving out ``NOT_SAVED`` and naming a post-hoc run's file by its moment."""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Save the config (rank 0) as Lightning does, after these two changes."""
        self.config = self.config.clone()
        for key in NOT_SAVED:
            if key in self.config:
                del self.config[key]
        moment = getattr(trainer, "posthoc_moment", None)
        if moment:
            self.config_filename = moment_config_name(moment)
        super().setup(trainer, pl_module, stage)
