"""Representation drift: each layer now against the same layer at every earlier moment of the run and at the initial
weights, by linear CKA on a fixed sample: the training dynamics as a layers x moments picture.

At every firing the probe stores its layers' (pooled) features on its fixed seeded sample in its moment folder,
compactly (``features.npz``: float16 per column centred and scaled, float32 for a small layer;
``analysis/compact_features.py``), and at its first firing in a run the features at the model's initial weights as well
(``initial_features.npz``, from the engine's initial weights). Earlier moments are read back from the run folder as
data (``artifacts/run_npz.py``, never unpickled): a resumed run, or a later ``latent-probe probe`` on the run, compares
with every moment stored before it; a file missing or malformed is skipped with a warning naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from latent_probe.analysis.cka import MAX_EXACT_WIDTH, check_widths
from latent_probe.analysis.cka_against import CkaAgainst
from latent_probe.analysis.compact_features import centred, compact, storage_dtype
from latent_probe.artifacts.run_npz import read_run_npz
from latent_probe.errors import ConfigError
from latent_probe.probing import Firing, MomentWriter, Probe
from latent_probe.probing.earlier_moments import earlier_moments, warn
from latent_probe.probing.layers import activation_modules
from latent_probe.registry import register_probe
from latent_probe.viz.matrix_heatmap import matrix_heatmap

if TYPE_CHECKING:
    from latent_probe.dataspec import DataSpec
    from latent_probe.probing.setup_pass import SetupPass

FEATURES, INITIAL_FEATURES = "features.npz", "initial_features.npz"
INITIAL = "initial"  # the column of the initial weights
KEPT_VALUES = 32 << 20  # earlier moments kept in memory for CKA: 32 Mi float32 values (128 MiB), the rest read from disk
METHOD = ("linear CKA, exact (feature-space: float64 centring, float32 products) on the stored features "
          "(float16, float32 for small layers)")
Column = tuple[int, str, np.ndarray]  # (sequence, moment, CKA of each layer with that moment)


@register_probe()
class RepresentationDrift(Probe):
    """Linear CKA of each layer now with the same layer at every earlier moment and at the initial weights: how training moves it.

    On a fixed seeded sample of ``split`` (``max_samples``, default 1,000), every firing stores each chosen layer's
    (pooled) features in its moment folder as ``features.npz`` (2 bytes per value, float32 for layers of at most 256 KiB:
    1,000 samples of 1,024 features are 1.6 MB compressed), and the first firing of a run those at the initial weights
    (``initial_features.npz``). Writes ``drift.npz`` (``cka``: layers x moments, the first column the initial weights and
    the last this moment; ``layers``, ``moments``, ``n_samples``), ``drift.json``, the heatmap ``drift.png`` (also in
    TensorBoard) and TensorBoard scalars ``<name>/<layer>/initial`` and ``<name>/<layer>/previous``: each layer's CKA with its initial
    state and with the previous moment stored, curves over training. Layers of at most 2,048 stored features.

    Args:
        max_samples: size of the fixed sample (None: the whole split; every moment stores it).
        every_n_epochs: fire after every n-th training epoch (default 1: a column per epoch).
        **kwargs: the shared options of ``Probe``.
    """

    needs_initial_weights = True

    def __init__(self, max_samples: int | None = 1000, every_n_epochs: int = 1, **kwargs: Any) -> None:
        super().__init__(max_samples=max_samples, every_n_epochs=every_n_epochs, **kwargs)
        # What this process stored, prepared for CKA: (moment, file) -> (sequence, sample index, layer -> CkaAgainst). Each
        # firing compares with every earlier moment: kept here, they are not read back and centred again (the disk stays
        # the source after a resume, and for what does not fit in KEPT_VALUES).
        self.kept: dict[tuple[str, str], tuple[int, np.ndarray, dict[str, CkaAgainst]]] = {}
        self.initial_against: dict[str, CkaAgainst] | None = None  # this firing's layers at the initial weights, if it made them

    def default_layers(self, model: nn.Module) -> list[str]:
        """Every activation module, in model order."""
        return activation_modules(model)

    def check(self, spec: DataSpec, model: nn.Module, setup_pass: SetupPass | None) -> None:
        """Refuse a layer too wide for exact CKA (its name and width in the error)."""
        check_widths({layer: self.pooling.width(self.layer_shapes[layer]) for layer in self.layers if layer in self.layer_shapes})

    def compute(self, firing: Firing) -> dict[str, Any] | None:
        """Every rank: the sample's features, and at the initial weights when no earlier moment stored them; rank 0: CKA."""
        sample = firing.activations()
        index = sample.index.numpy()
        current = {layer: compact(sample.outputs[layer].numpy()) for layer in self.layers}
        # CKA reads what is stored (so that it can be recomputed from the run folder), on the model's device
        now = {layer: CkaAgainst(on(centred(c["values"], c["scale"]), firing.device)) for layer, c in current.items()}
        (columns, initials), error, skipped = ([], []), None, []
        if firing.is_global_zero:  # the run folder is read (and written) by rank 0 only
            try:
                columns, initials = self._stored_columns(Path(str(firing.run_dir)), firing.moment, index, now, skipped)
            except Exception as caught:  # noqa: BLE001  raised once past the collectives below, which every rank must reach
                error = caught
        initial = None
        if not firing.trainer.strategy.broadcast(bool(initials), src=0):  # a collective: every rank runs the pass
            initial, initials = self._at_initial_weights(firing, now)
        if error is not None:
            raise error
        if not firing.is_global_zero:
            return None
        return {**self._matrix(firing.moment, current, columns, initials), "n_samples": len(index), "index": index,
                "features": current, "initial": initial, "skipped": skipped, "prepared": (now, self.initial_against)}

    def _at_initial_weights(self, firing: Firing, now: dict[str, CkaAgainst]) -> tuple[dict[str, dict[str, np.ndarray]], list[Column]]:
        """The sample's features at the initial weights, and their CKA column."""
        outputs = firing.activations(weights=INITIAL).outputs
        initial = {layer: compact(outputs[layer].numpy()) for layer in self.layers}
        prepared = {layer: CkaAgainst(on(centred(c["values"], c["scale"]), firing.device)) for layer, c in initial.items()}
        self.initial_against = prepared
        column = np.array([now[layer].compare(prepared[layer]) for layer in self.layers])
        return initial, [(0, firing.moment, column)]

    def _stored_columns(self, run: Path, moment: str, index: np.ndarray, now: dict[str, CkaAgainst], skipped: list[str]
                        ) -> tuple[list[Column], list[Column]]:
        """Each earlier moment's CKA column, and each stored initial one's, from the features files in the run (what
        could not be used is warned about and added to ``skipped``)."""
        columns, initials = [], []
        self.initial_against = None
        for folder in earlier_moments(run, self.name, moment):
            for name, found in ((FEATURES, columns), (INITIAL_FEATURES, initials)):
                kept = self.kept.get((folder.name, name))
                if kept is not None and np.array_equal(kept[1], index) and (folder / name).is_file():
                    found.append((kept[0], folder.name, np.array([now[layer].compare(kept[2][layer]) for layer in self.layers])))
                    continue
                stored = self._read(run, folder / name, index, name == FEATURES, skipped)
                if stored is not None:
                    sequence, features = stored
                    found.append((sequence, folder.name, np.array([now[layer](on(features.get(layer))) for layer in self.layers])))
        return sorted(columns, key=lambda c: c[:2]), sorted(initials, key=lambda c: c[:2])

    def _read(self, run: Path, path: Path, index: np.ndarray, required: bool, skipped: list[str]
              ) -> tuple[int, dict[str, np.ndarray]] | None:
        """The sequence number and centred features of a stored file; None (warned, when ``required``) if unusable."""
        if not required and not path.exists():
            return None
        try:
            arrays = read_run_npz(run, path, cap=stored_bytes(len(index), [self.stored_width(layer) for layer in self.layers]))
            sequence, layers = stored_header(arrays, index, path)
        except ConfigError as error:
            skipped.append(warn(self.name, f"{error}; skipped"))
            return None
        features = {}
        for layer in self.layers:
            values = stored_layer(arrays, layers, layer, (len(index), self.stored_width(layer)))
            if values is None:
                skipped.append(warn(self.name, f"{str(path)!r} holds no usable features of layer {layer!r}; its cell is left empty"))
            else:
                features[layer] = values
        return sequence, features

    def _keep(self, moment: str, name: str, result: dict[str, Any], prepared: dict[str, CkaAgainst] | None) -> None:
        """Keep what was just stored, prepared for CKA, while the kept values stay within ``KEPT_VALUES``."""
        held = sum(a.size() for _, _, layers in self.kept.values() for a in layers.values())
        if prepared is not None and held + sum(a.size() for a in prepared.values()) <= KEPT_VALUES:
            self.kept[(moment, name)] = (result["sequence"], result["index"], prepared)

    def stored_width(self, layer: str) -> int:
        """How many features of ``layer`` are stored per sample (after pooling)."""
        return self.pooling.width(self.layer_shapes[layer])

    def _matrix(self, moment: str, current: dict[str, dict[str, np.ndarray]], columns: list[Column], initials: list[Column]
                ) -> dict[str, Any]:
        """The layers x moments matrix: the initial weights (the first stored), the earlier moments in the order they were
        stored, and this one (1, or NaN for a constant layer, whose CKA is undefined)."""
        itself = np.array([1.0 if current[layer]["values"].any() else np.nan for layer in self.layers])
        matrix = np.stack([initials[0][2], *(c[2] for c in columns), itself], axis=1)
        return {"layers": list(self.layers), "moments": [INITIAL, *(c[1] for c in columns), moment], "cka": matrix,
                "sequence": 1 + max([c[0] for c in columns + initials], default=0), "initial_from": initials[0][1]}

    def write(self, result: dict[str, Any], out: MomentWriter) -> None:
        """The features (not again for a moment repeating another firing), the matrix, the heatmap and the scalars."""
        if not out.about.get("same_firing_as"):
            now, initial = result["prepared"]
            out.npz(FEATURES, stored_arrays(result["features"], result["index"], result["sequence"]))
            self._keep(out.moment, FEATURES, result, now)
            if result["initial"] is not None:
                out.npz(INITIAL_FEATURES, stored_arrays(result["initial"], result["index"], result["sequence"]))
                self._keep(out.moment, INITIAL_FEATURES, result, initial)
        layers, moments, matrix = result["layers"], result["moments"], result["cka"]
        out.npz("drift.npz", {"cka": matrix, "layers": np.array(layers), "moments": np.array(moments),
                              "n_samples": np.array(result["n_samples"])})
        out.json("drift.json", {
            "split": self.split, "n_samples": result["n_samples"], "method": METHOD, "max_exact_width": MAX_EXACT_WIDTH,
            "initial_from": result["initial_from"], "skipped": result["skipped"], "layers": layers, "moments": moments,
            "cka": [[float(v) if np.isfinite(v) else None for v in row] for row in matrix]})
        title = f"{self.name}: linear CKA with each earlier moment ({self.split}, {result['n_samples']} samples)"
        out.png("drift.png", matrix_heatmap(layers, moments, matrix, title), tag=f"{self.name}/cka")
        out.scalars(drift_scalars(self.name, layers, matrix))


def on(features: np.ndarray | None, device: torch.device | None = None) -> torch.Tensor | None:
    """Stored ``features`` as a float32 tensor (on ``device``; else where the CKA puts it), None for None: float16 or
    float32 storage loses nothing in float32, and CKA's products run 4x faster there (``cka_against.py``)."""
    return None if features is None else torch.from_numpy(features).to(device or "cpu", torch.float32)


def drift_scalars(name: str, layers: list[str], matrix: np.ndarray) -> dict[str, float]:
    """Per layer its CKA with the initial weights and, when an earlier moment is stored, with the previous one."""
    scalars = {f"{name}/{layer}/initial": matrix[i, 0] for i, layer in enumerate(layers)}
    if matrix.shape[1] > 2:
        scalars.update({f"{name}/{layer}/previous": matrix[i, -2] for i, layer in enumerate(layers)})
    return {tag: float(value) for tag, value in scalars.items() if np.isfinite(value)}


def stored_arrays(features: dict[str, dict[str, np.ndarray]], index: np.ndarray, sequence: int) -> dict[str, np.ndarray]:
    """A features file: the sample's dataset ``index``, the ``layers``, the ``sequence`` of the moment among those stored,
    and per layer ``i`` its compact ``values:i``, ``mean:i`` and ``scale:i``."""
    arrays = {"index": index.astype(np.int64), "layers": np.array(list(features)), "sequence": np.array(sequence, dtype=np.int64)}
    for i, compacted in enumerate(features.values()):
        arrays.update({f"{key}:{i}": value for key, value in compacted.items()})
    return arrays


def stored_bytes(rows: int, widths: list[int]) -> int:
    """A cap on a features file of ``rows`` samples and layers of ``widths``: twice its size unpacked (float32), and 1 MB."""
    return 2 * (rows * (8 + 4 * sum(widths)) + 8 * sum(widths)) + (1 << 20)


def stored_header(arrays: dict[str, np.ndarray], index: np.ndarray, path: Path) -> tuple[int, list[str]]:
    """A features file's sequence and layers; a ``ConfigError`` naming ``path`` when it lacks them or holds other samples."""
    sequence, layers, stored_index = arrays.get("sequence"), arrays.get("layers"), arrays.get("index")
    if sequence is None or sequence.shape != () or sequence.dtype.kind not in "iu" or layers is None or layers.ndim != 1 \
            or layers.dtype.kind != "U" or stored_index is None:
        raise ConfigError(f"{str(path)!r} is not a features file: no sequence, layers or index")
    if not np.array_equal(stored_index, index):
        raise ConfigError(f"{str(path)!r} holds features of other samples (the split, max_samples or seed changed)")
    return int(sequence), [str(layer) for layer in layers]


def stored_layer(arrays: dict[str, np.ndarray], layers: list[str], layer: str, shape: tuple[int, int]) -> np.ndarray | None:
    """``layer``'s centred features from a features file, or None when absent, of another shape or not finite."""
    if layer not in layers:
        return None
    i = layers.index(layer)
    values, scale = arrays.get(f"values:{i}"), arrays.get(f"scale:{i}")
    if values is None or scale is None or values.dtype != storage_dtype(*shape) or values.shape != shape or scale.dtype != np.float32 \
            or scale.shape != shape[1:]:
        return None
    features = centred(values, scale)
    return features if np.isfinite(features).all() else None
