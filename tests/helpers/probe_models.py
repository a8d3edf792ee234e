"""Small models the probe tests attach probes to (importable as ``helpers.probe_models.X`` in configs)."""

import os
import signal

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F

from latent_probe.errors import ConfigError
from latent_probe.models import ClassifierModule
from latent_probe.probes import Probe

# CLI options: TinyDigitNet on the 8x8 digits, runs under runs/digits/.
DIGITS = ["--model", "helpers.probe_models.TinyDigitNet", "--data", "DigitsDataModule", "--experiment", "digits"]


class TinyDigitNet(ClassifierModule):
    """64 -> 16 -> 2 (a 2-D bottleneck) -> 10 on 8x8 digits; any input shape is flattened."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=lr)
        self.flatten = nn.Flatten()
        self.hidden = nn.Linear(64, 16)
        self.hidden_act = nn.ReLU(inplace=True)
        self.bottleneck = nn.Linear(16, 2)
        self.bottleneck_act = nn.Tanh()
        self.classifier = nn.Linear(2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        h = self.hidden_act(self.hidden(self.flatten(x)))
        return self.classifier(self.bottleneck_act(self.bottleneck(h)))

    def loss_and_predictions(self, x, y):
        """Cross-entropy and argmax."""
        logits = self(x)
        return F.cross_entropy(logits, y), logits.argmax(-1)


class FailingProbe(Probe):
    """A probe whose computation always raises (to test failure handling)."""

    needs_layers = False

    def compute(self, firing):
        """Raise."""
        raise ValueError("deliberate failure")

    def write(self, result, out):
        """Never reached."""


class KillAtEpochEnd(pl.Callback):
    """Ends its own process with SIGKILL at the end of a given epoch (after earlier callbacks ran)."""

    def __init__(self, epoch: int = 1) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module):
        """Die like a killed job: no cleanup, no exception handling."""
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


class TermAtStep(pl.Callback):
    """Sends itself SIGTERM (a cluster preempting a job) or SIGINT (Ctrl-C) at a given global step."""

    def __init__(self, step: int = 3, signal_name: str = "SIGTERM") -> None:
        self.step, self.signal = step, getattr(signal, signal_name)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        """Signal once."""
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signal)


class KillDuringWrite(pl.Callback):
    """SIGKILLs (or signals) its process in the middle of writing a file named ``file_name`` during epoch ``epoch``.

    The kill comes after the data went into the atomic writer's temp file and before the rename, the moment a
    power cut or an OOM killer does the most harm.
    """

    def __init__(self, epoch: int = 1, file_name: str = "last.ckpt", signal_name: str = "SIGKILL") -> None:
        self.epoch, self.file_name, self.signal = epoch, file_name, getattr(signal, signal_name)

    def on_train_epoch_start(self, trainer, pl_module):
        """From this epoch on, die inside the fsync of the named file's temp file."""
        if trainer.current_epoch != self.epoch:
            return
        fsync, name = os.fsync, f".{self.file_name}."

        def fsync_or_die(fd):
            if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(name):
                os.fsync = fsync  # signal once: SIGINT and SIGTERM let the process go on to handle them
                os.kill(os.getpid(), self.signal)
            fsync(fd)

        os.fsync = fsync_or_die


class SignalAtSetup(Probe):
    """Sends itself a signal while probes are checked at setup, before any trainer or run folder exists."""

    reads_activations = needs_layers = False

    def __init__(self, signal_name: str = "SIGTERM") -> None:
        super().__init__(moments=[])
        self.signal = getattr(signal, signal_name)

    def check(self, spec, pl_module, run):
        """Signal once, as a user pressing Ctrl-C (or a scheduler) during setup."""
        os.kill(os.getpid(), self.signal)


class FailAtTrainStart(pl.Callback):
    """Raises a user error once training starts: a problem found after the trainer made the run folder."""

    def on_train_start(self, trainer, pl_module):
        """Fail as data that contradicts the config would, at its first batch."""
        raise ConfigError("the data contradicts the config (raised by the test)")
