"""The options Trainer and each built-in component accept, known before Lightning is imported.

A typo in a key (``trainer.max_epoch``, ``model.init_args.depht``) is the commonest config error; jsonargparse finds
it only after Lightning and torch are imported (about 6 s here) and names no valid choice. ``KNOWN_OPTIONS`` lists,
per class, the first-level keys jsonargparse accepts for it, so ``option_keys.py`` can answer in a fraction of a
second with the close matches. The table is written by ``python -m latent_probe.cli.known_options`` from jsonargparse
itself (``accepted_options``); tests/cli/test_option_keys.py fails when it is stale.
"""

from __future__ import annotations

import sys
import textwrap

TRAINER = "Trainer"

# Generated: python -m latent_probe.cli.known_options
KNOWN_OPTIONS: dict[str, frozenset[str]] = {
    "Trainer": frozenset({
        "accelerator", "accumulate_grad_batches", "barebones", "benchmark", "callbacks", "check_val_every_n_epoch",
        "default_root_dir", "detect_anomaly", "deterministic", "devices", "enable_autolog_hparams",
        "enable_checkpointing", "enable_model_summary", "enable_progress_bar", "fast_dev_run",
        "gradient_clip_algorithm", "gradient_clip_val", "inference_mode", "limit_predict_batches",
        "limit_test_batches", "limit_train_batches", "limit_val_batches", "log_every_n_steps", "logger",
        "max_epochs", "max_steps", "max_time", "min_epochs", "min_steps", "model_registry", "num_nodes",
        "num_sanity_val_steps", "overfit_batches", "plugins", "precision", "profiler",
        "reload_dataloaders_every_n_epochs", "strategy", "sync_batchnorm", "use_distributed_sampler",
        "val_check_interval",
    }),
    "BottleneckClassifier": frozenset({
        "activation", "bottleneck_dim", "bottleneck_norm", "hidden", "image_size", "in_channels", "lr",
        "lr_schedule", "num_classes", "readout_lr_scale",
    }),
    "Classifier": frozenset({
        "backbone", "in_channels", "lr", "num_classes",
    }),
    "DeepMLP": frozenset({
        "depth", "in_features", "init", "lr", "width",
    }),
    "DenoisingAutoencoder": frozenset({
        "corruption", "hidden", "in_features", "lr",
    }),
    "MLPClassifier": frozenset({
        "activation", "hidden_sizes", "in_features", "lr", "num_classes", "weights",
    }),
    "StackedDenoisingAutoencoder": frozenset({
        "corruption", "hidden_sizes", "in_features", "lr", "num_classes", "pretrain_epochs",
    }),
    "VAE": frozenset({
        "activation", "hidden_sizes", "in_features", "kl_weight", "latent_dim", "lr",
    }),
    "DatasetDataModule": frozenset({
        "batch_size", "collate_fn", "num_workers", "seed", "test", "train", "val", "val_fraction",
    }),
    "DigitsDataModule": frozenset({
        "batch_size", "flatten", "normalize", "num_workers", "seed", "test_size", "val_size",
    }),
    "MNISTDataModule": frozenset({
        "batch_size", "dataset", "download", "flatten", "in_memory", "normalize", "num_workers", "root", "seed",
        "val_size",
    }),
    "Toy2DDataModule": frozenset({
        "batch_size", "factor", "kind", "n_samples", "noise", "num_workers", "seed", "test_fraction",
        "val_fraction",
    }),
    "EmbeddingDumper": frozenset({
        "active_threshold", "baseline", "batch_size", "every_n_epochs", "layers", "max_features", "max_samples",
        "metrics", "moments", "name", "pictures", "projector", "projector_format", "seed", "split", "sprites",
        "strict", "token_pooling",
    }),
    "FilterTiler": frozenset({
        "batch_size", "compose", "every_n_epochs", "image_shape", "layers", "max_features", "max_samples",
        "max_tiles", "moments", "name", "scaling", "seed", "spacing", "split", "strict", "tiles_per_row",
        "token_pooling", "units", "zoom",
    }),
    "InfluenceMapper": frozenset({
        "batch_size", "chunk_size", "every_n_epochs", "files", "ig_steps", "image_shape", "layers", "max_features",
        "max_samples", "max_tiles", "mode", "moments", "n_images", "name", "per_class", "reference", "seed",
        "split", "strict", "token_pooling", "white",
    }),
    "LayerSimilarity": frozenset({
        "batch_size", "bootstrap", "bootstrap_samples", "every_n_epochs", "group_size", "interval", "kernel",
        "layers", "max_features", "max_samples", "method", "moments", "name", "rbf_sigma", "seed", "split",
        "strict", "token_pooling",
    }),
    "LayerTransformRecorder": frozenset({
        "batch_size", "boundary_level", "boundary_resolution", "every_n_epochs", "frame_ms", "frames_per_step",
        "gif", "hold", "layers", "max_features", "max_samples", "moments", "name", "seed", "split", "strict",
        "token_pooling",
    }),
    "LinearProbe": frozenset({
        "batch_size", "confidence", "every_n_epochs", "fit_split", "input_baseline", "layers", "max_features",
        "max_samples", "method", "moments", "name", "resamples", "seed", "split", "strict", "token_pooling",
        "untrained_baseline",
    }),
    "ModelSimilarity": frozenset({
        "batch_size", "every_n_epochs", "layers", "max_features", "max_samples", "moments", "name", "reference",
        "seed", "split", "strict", "token_pooling",
    }),
    "RepresentationDrift": frozenset({
        "batch_size", "every_n_epochs", "layers", "max_features", "max_samples", "moments", "name", "seed", "split",
        "strict", "token_pooling",
    }),
    "UnitStats": frozenset({
        "batch_size", "dead_below", "every_n_epochs", "layers", "max_features", "max_samples", "moments", "name",
        "seed", "split", "strict", "token_pooling",
    }),
}


def accepted_options() -> dict[str, frozenset[str]]:
    """Per class (``Trainer`` and every built-in by name), the first-level keys jsonargparse accepts: imports them all."""
    from latent_probe.cli.trainer import ProbeTrainer
    from latent_probe.registry import BUILTINS, REGISTRIES

    table = {TRAINER: _accepted(ProbeTrainer)}
    for kind, registry in REGISTRIES.items():
        for name in sorted(BUILTINS[kind]):
            table[name] = _accepted(registry.resolve(name))
    return table


def _accepted(cls: type) -> frozenset[str]:
    from jsonargparse import ArgumentParser

    parser = ArgumentParser()
    parser.add_class_arguments(cls, "x", sub_configs=True)
    return frozenset(dest[2:].split(".")[0] for dest in (getattr(a, "dest", "") for a in parser._actions) if dest.startswith("x."))  # noqa: SLF001


def table_source(table: dict[str, frozenset[str]]) -> str:
    """``KNOWN_OPTIONS``'s Python source for ``table`` (lines of at most 120 characters)."""
    rows = []
    for name, keys in table.items():
        words = textwrap.wrap(" ".join(f'"{key}",' for key in sorted(keys)), 108)
        rows.append(f'    "{name}": frozenset({{\n' + "".join(f"        {line}\n" for line in words) + "    }),\n")
    return "KNOWN_OPTIONS: dict[str, frozenset[str]] = {\n" + "".join(rows) + "}\n"


def rewrite(path: str = __file__) -> None:
    """Rewrite the ``KNOWN_OPTIONS`` table of this file from ``accepted_options``."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    start = text.index("KNOWN_OPTIONS: dict")
    end = text.index("}\n", start) + 2
    with open(path, "w", encoding="utf-8") as file:
        file.write(text[:start] + table_source(accepted_options()) + text[end:])


if __name__ == "__main__":
    rewrite(sys.argv[1] if len(sys.argv) > 1 else __file__)
