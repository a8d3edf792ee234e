"""The face of latent-probe: the ``latent-probe`` command (LightningCLI subclass, ProbeTrainer, names, listing, report)."""

from latent_probe.cli.main import main

__all__ = ["main"]
