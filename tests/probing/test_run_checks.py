"""Checks of a run's probes as a whole, before any data is read: one name per probe, moments that will come."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
from helpers.probe_models import TinyDigitNet
from torch import nn

from latent_probe.data import DigitsDataModule
from latent_probe.errors import ConfigError, UnknownNameError
from latent_probe.models import StackedDenoisingAutoencoder
from latent_probe.probes import EmbeddingDumper, FilterTiler, LinearProbe
from latent_probe.probing import ProbeRunner, prepare_probes
from latent_probe.probing.moments import NAMED_MOMENTS, check_moments, model_phases


def digits_spec():
    return DigitsDataModule().data_spec()


def test_two_probes_of_one_default_name_are_refused():
    with pytest.raises(ConfigError, match=r"two probes are named 'linear_probe' \(LinearProbe and LinearProbe\).*HINT: set `name:`"):
        prepare_probes([LinearProbe(), LinearProbe()], TinyDigitNet(), digits_spec())
    prepare_probes([LinearProbe(), LinearProbe(name="linear_probe_2")], TinyDigitNet(), digits_spec())


def test_a_name_given_to_one_probe_may_not_be_another_probe_default():
    probes = [EmbeddingDumper(layers=["hidden"]), LinearProbe(name="embedding_dumper")]
    with pytest.raises(ConfigError, match="two probes are named 'embedding_dumper' .*probes/embedding_dumper/"):
        prepare_probes(probes, TinyDigitNet(), digits_spec())


def test_probes_attached_to_a_plain_trainer_are_checked_together(tmp_path):
    """Outside the CLI, one ``ProbeRunner`` holds the trainer's probes: the same name is the same error, at once."""
    with pytest.raises(ConfigError, match="two probes are named 'mine'"):
        ProbeRunner([EmbeddingDumper(layers=["bottleneck"], name="mine"), LinearProbe(name="mine")])
    probes = [EmbeddingDumper(layers=["hidden_act"], max_samples=20, projector=False, pictures=False), LinearProbe(layers=["nope"])]
    trainer = pl.Trainer(default_root_dir=tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[ProbeRunner(probes)])
    with pytest.raises(ConfigError, match="probe 'linear_probe': .*nope"):
        trainer.fit(TinyDigitNet(), datamodule=DigitsDataModule())
    assert trainer.global_step == 0, "found in the runner's setup, before any training step"


def test_a_probe_given_as_a_callback_is_told_to_use_the_runner(tmp_path):
    with pytest.raises(ConfigError, match=r"EmbeddingDumper is not a Lightning callback: .*ProbeRunner"):
        pl.Trainer(default_root_dir=tmp_path, logger=False, callbacks=[EmbeddingDumper()])


def test_a_misspelt_moment_names_the_close_match_first():
    with pytest.raises(ConfigError, match=r"probe 'linear_probe': unknown moment 'fit_ned'; valid choices: fit_end, "):
        prepare_probes([LinearProbe(moments=["fit_ned"])], TinyDigitNet(), digits_spec())
    with pytest.raises(UnknownNameError, match=r"'vaildate_end'; valid choices: validate_end, "):
        check_moments(["fit_end", "vaildate_end"], (), "Net")


def test_model_phases_are_moments_only_for_a_model_that_declares_them():
    sda = StackedDenoisingAutoencoder([8, 4], in_features=64)
    assert model_phases(sda) == ("pretrain_layer1_end", "pretrain_layer2_end", "pretrain_end", "finetune_end")
    prepare_probes([FilterTiler(moments=["pretrain_layer2_end", "pretrain_end", "fit_end"])], sda, digits_spec())
    with pytest.raises(ConfigError, match=r"unknown moment 'pretrain_edn'; valid choices: pretrain_end, "):
        prepare_probes([FilterTiler(moments=["pretrain_edn"])], sda, digits_spec())
    with pytest.raises(UnknownNameError, match=r"'pretrain_layer3_end'; valid choices: pretrain_layer2_end, pretrain_layer1_end, "):
        check_moments(["pretrain_layer3_end"], model_phases(sda), "StackedDenoisingAutoencoder")
    with pytest.raises(ConfigError, match="'pretrain_end'.* HINT: TinyDigitNet declares no phases; .* `phases` attribute"):
        prepare_probes([LinearProbe(moments=["pretrain_end"])], TinyDigitNet(), digits_spec())


def test_phases_are_read_only_from_a_list_of_names():
    net = TinyDigitNet()
    net.phases = nn.Linear(1, 1)  # a submodule that happens to be called so declares nothing
    assert model_phases(net) == ()
    net = TinyDigitNet()
    net.phases = ("warmup_end", 3)
    assert model_phases(net) == ("warmup_end",)
    check_moments(["warmup_end", *NAMED_MOMENTS], model_phases(net), "TinyDigitNet")


@pytest.mark.parametrize("moments", ["fit_end", [1], None])
def test_moments_must_be_a_list_of_names(moments):
    with pytest.raises(ConfigError, match="moments must be a list of moment names, e.g. \\[fit_end\\]"):
        LinearProbe(moments=moments)
