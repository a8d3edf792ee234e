"""Linear classifier probes (Alain & Bengio, arXiv:1610.01644): how linearly decodable is the label at each layer?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
import torch

from latent_probe.analysis.bootstrap import LEVEL, RESAMPLES
from latent_probe.analysis.linear_readout import fit_readouts, readout_correct
from latent_probe.analysis.readout_baselines import ReadoutEstimates, ReadoutScores, estimate_readouts
from latent_probe.errors import check_range, require_choice
from latent_probe.probes.fixed_baselines import KEPT_AS, FixedBaselines, samples_digest
from latent_probe.probing import Activations, Firing, MomentWriter, Probe
from latent_probe.probing.layers import activation_modules
from latent_probe.probing.sharding import any_rank
from latent_probe.registry import register_probe
from latent_probe.viz.accuracy_charts import Baseline, accuracy_bars, accuracy_lines

BOOTSTRAP_RESAMPLED = "held-out samples, with replacement; the read-outs are not refitted"
INPUT_BASELINE = "input_baseline"  # its key in metrics.json, in the manifest's skipped, and its TensorBoard tags
UNTRAINED = "untrained "  # the prefix of the untrained layers' keys in the manifest's skipped
NOT_ONE_TENSOR = "the inputs are not one tensor (a dict of token ids and masks, say): no raw-input baseline"


@dataclass
class LayerData:
    """Flattened activations of the fit split and the evaluation split, with labels, on the model's device."""

    train: dict[str, torch.Tensor]
    train_label: torch.Tensor
    evaluation: dict[str, torch.Tensor]
    evaluation_label: torch.Tensor
    evaluation_index: torch.Tensor  # the held-out samples' dataset indices
    inputs: tuple[torch.Tensor, torch.Tensor] | None = None  # the raw inputs of both splits as features, or None
    inputs_stored: str = ""  # how the raw inputs were made features, or why there are none
    # The same layers at the model's initial (untrained) weights, on the same samples: (fit split, held-out).
    untrained: tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]] | None = None
    # The baselines' per-sample results: kept from an earlier moment (complete), or to be fitted from the fields above
    # and kept (None: fitted from them and not kept, as for data made by hand).
    fixed: FixedBaselines | None = None


def untrained_metrics(estimates: ReadoutEstimates) -> dict[str, Any]:
    """``metrics.json``'s ``untrained`` (each layer at its initial weights) and ``selectivity`` (trained minus untrained,
    paired on the same resamples), each with its interval; absent without an untrained baseline."""
    if estimates.untrained is None or estimates.selectivity is None:
        return {}
    return {"untrained": {p: {"accuracy": e.value, "interval": [e.low, e.high]} for p, e in estimates.untrained.items()},
            "selectivity": {p: {"value": e.value, "interval": [e.low, e.high]} for p, e in estimates.selectivity.items()}}


def baselines_record(fixed: FixedBaselines, moment: str) -> dict[str, Any]:
    """``metrics.json``'s ``baselines``: the moment the baselines were fitted at, and whether this moment reused them."""
    if fixed.inputs is None and fixed.untrained is None:
        return {}
    return {"baselines": {"computed_at": fixed.moment, "reused": fixed.moment != moment, "kept": KEPT_AS}}


def untrained_layers(firing: Firing, fit_split: str, trained: tuple) -> tuple[dict, dict]:
    """The probe's layers at the initial weights on the fit and held-out splits: the same samples as ``trained``."""
    device, untrained = firing.device, (firing.activations(split=fit_split, weights="initial"), firing.activations(weights="initial"))
    for now, then in zip(trained, untrained):
        if not torch.equal(now.index, then.index):  # the passes draw by the same seed: a difference is a bug, not noise
            raise RuntimeError("the initial-weights pass read other samples than the trained one")
    return tuple({p: o.to(device) for p, o in then.outputs.items()} for then in untrained)


@register_probe()
class LinearProbe(Probe):
    """Fit a linear classifier on each layer's activations (train split) and report its accuracy (val split).

    The accuracy says how much label information a *linear* read-out can take from that layer:
    it usually rises with depth, and over training. Default layers: every activation module
    (ReLU, Tanh, Sigmoid, ...). The classifier is scikit-learn's default logistic regression
    (L2, C=1, standardized features), fitted in float32 on the model's device by a preconditioned
    full-batch L-BFGS (``torch``; ``sklearn`` runs scikit-learn itself, as a slow reference).
    Each accuracy comes with a percentile bootstrap interval over the held-out samples (the fitted
    read-out is not refitted per resample: the interval leaves out the spread of the fit itself).
    Writes ``metrics.json``, ``held_out.npz`` (which held-out samples each read-out got right),
    TensorBoard scalars ``linear_probe/<layer>/accuracy`` (and ``accuracy_low``/``accuracy_high``),
    and plots of accuracy with error bars against depth and, when it runs on a cadence, against epoch.
    The same read-out on the raw inputs (pooled like the layers) is the baseline drawn across them; the same layers at the
    model's initial weights (as built, before training) are the untrained baseline, and ``selectivity`` is the trained
    accuracy minus the untrained one, with a paired interval (``metrics.json``, TensorBoard). Both baselines are the same
    at every moment of a run: they are fitted at the first moment and reused after it (``fixed_baselines.py``;
    ``metrics.json``'s ``baselines`` names that moment). The raw inputs are reduced batch by batch in the pass.

    Args:
        fit_split: the split whose activations train the classifiers.
        method: ``torch`` (``auto`` is the same) or ``sklearn``.
        split: the split the accuracy is measured on.
        max_samples: samples taken from each of the two splits.
        resamples: bootstrap resamples of the held-out samples behind each interval.
        confidence: the intervals' coverage (0.95: from the 2.5th to the 97.5th percentile).
        input_baseline: also fit the read-out on the raw inputs (when they are one tensor); its pass keeps them reduced.
        untrained_baseline: also fit it on the layers at the initial weights (the runner keeps a CPU copy of them).
        **kwargs: the shared options of ``Probe``.
    """

    needs_labels = True

    def __init__(
        self,
        fit_split: Literal["train", "val", "test"] = "train",
        method: Literal["auto", "sklearn", "torch"] = "auto",
        split: str = "val",
        max_samples: int | None = 2000,
        resamples: int = RESAMPLES,
        confidence: float = LEVEL,
        input_baseline: bool = True,
        untrained_baseline: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(split=split, max_samples=max_samples, **kwargs)
        require_choice("fit_split", fit_split, ("train", "val", "test"))
        require_choice("method", method, ("auto", "sklearn", "torch"))
        check_range("resamples", resamples, minimum=100, maximum=100_000)  # fewer make ragged percentiles; more, no better ones
        check_range("confidence", confidence, minimum=0.5, maximum=0.999)
        self.fit_split, self.method, self.resamples, self.confidence = fit_split, method, int(resamples), float(confidence)
        self.input_baseline = bool(input_baseline)
        self.untrained_baseline = self.needs_initial_weights = bool(untrained_baseline)  # the runner keeps the weights
        self.history: dict[str, dict[str, float]] = {}  # moment -> layer -> accuracy
        self.interval_history: dict[str, dict[str, list[float]]] = {}  # moment -> layer -> [low, high]
        self.fixed: FixedBaselines | None = None  # the baselines once fitted (the same on every rank but their results)

    @property
    def keeps_input_features(self) -> bool:  # type: ignore[override]
        """The pass reduces the inputs for the raw-input baseline until it is fitted (then it is reused)."""
        return self.input_baseline and self.fixed is None

    def default_layers(self, pl_module: pl.LightningModule) -> list[str]:
        """Every activation module, in model order."""
        return activation_modules(pl_module)

    def splits(self) -> list[str]:
        """The split the classifiers are fitted on and the one they are scored on."""
        return list(dict.fromkeys([self.fit_split, self.split]))

    def extra_state(self) -> dict[str, Any]:
        """The accuracy history and its intervals, so the plot over training goes on after a resume, and the baselines'
        per-sample results once fitted."""
        kept = {"fixed_baselines": self.fixed.state()} if self.fixed is not None and self.fixed.complete else {}
        return {"history": self.history, "interval_history": self.interval_history, **kept}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore the accuracy history (a checkpoint from before the intervals has none of them) and the baselines."""
        self.history = dict(state.get("history", {}))
        self.interval_history = dict(state.get("interval_history", {}))
        self.fixed = FixedBaselines.from_state(state.get("fixed_baselines"))

    def compute(self, firing: Firing) -> LayerData:
        """Gather the chosen layers' outputs on both splits (every rank), and what the baselines need unless kept."""
        asked_inputs = self.keeps_input_features  # what this moment's pass was planned with
        fit = firing.activations(split=self.fit_split)
        evaluation = firing.activations()
        device = firing.device  # the read-outs are fitted where the model runs
        data = LayerData(
            train={p: o.to(device) for p, o in fit.outputs.items()},
            train_label=fit.label.to(device),
            evaluation={p: o.to(device) for p, o in evaluation.outputs.items()},
            evaluation_label=evaluation.label.to(device),
            evaluation_index=evaluation.index,
        )
        if self.input_baseline or self.untrained_baseline:
            samples = samples_digest(fit.index, self._baseline_settings())
            data.fixed = self._kept_baselines(firing, samples, evaluation.index)
            if data.fixed is None:
                data.fixed = self.fixed = FixedBaselines(firing.moment, samples, evaluation.index.detach().cpu().clone())
                self._baseline_data(firing, data, (fit, evaluation), asked_inputs)
        return data

    def _baseline_settings(self) -> tuple:
        """What the baselines' results depend on besides the samples: equal settings, equal baselines."""
        return (self.fit_split, self.split, self.layers, self.input_baseline, self.untrained_baseline, self._method(),
                self.seed, self.pooling)

    def _kept_baselines(self, firing: Firing, samples: str, index: torch.Tensor) -> FixedBaselines | None:
        """The baselines fitted at an earlier moment, when they serve this one on every rank (else None: fit them again)."""
        kept = self.fixed
        usable = kept is not None and kept.fits(samples, index, firing.is_global_zero)
        # A collective: every rank must agree, or one rank would run the passes at the initial weights alone.
        return kept if not any_rank(firing.trainer.strategy, not usable, firing.device) else None

    def _baseline_data(self, firing: Firing, data: LayerData, trained: tuple[Activations, Activations], asked_inputs: bool) -> None:
        """The raw inputs' features and the layers at the initial weights, on the same samples as ``trained``."""
        fit, evaluation = trained
        if self.input_baseline and not asked_inputs:  # kept baselines that turned out not to fit: inputs from a pass of their own
            fit, evaluation = (firing.activations(split=s, input_features=True) for s in (self.fit_split, self.split))
        if self.input_baseline and fit.input_features is not None and evaluation.input_features is not None:
            data.inputs = (fit.input_features.to(firing.device), evaluation.input_features.to(firing.device))
            data.inputs_stored = fit.input_reduction
        elif self.input_baseline:
            data.inputs_stored = NOT_ONE_TENSOR
        if self.untrained_baseline:
            data.untrained = untrained_layers(firing, self.fit_split, trained)

    def write(self, result: LayerData, out: MomentWriter) -> None:
        """Fit one read-out per layer (and the baselines, unless kept), bootstrap their held-out accuracies, then write
        metrics, per-sample results, scalars and plots."""
        correct, methods = self._fit_layers(result.train, result.evaluation, result, out)
        fixed = result.fixed if result.fixed is not None and result.fixed.complete else self._fit_baselines(result, out)
        out.skipped.update(fixed.skipped)  # what the baselines left out, said at every moment that shows them
        scores = ReadoutScores(correct, *fixed.scores())
        estimates = estimate_readouts(scores, self.resamples, self.seed, self.confidence)
        self.history[out.moment] = {path: e.value for path, e in estimates.layers.items()}
        self.interval_history[out.moment] = {path: [e.low, e.high] for path, e in estimates.layers.items()}
        out.json("metrics.json", {**self._metrics(result, out.moment, methods), **self._input_metrics(fixed, estimates),
                                  **untrained_metrics(estimates), **baselines_record(fixed, out.moment)})
        out.npz("held_out.npz", self._held_out(result, scores))
        out.scalars(self._scalars(estimates))
        baseline = None if estimates.inputs is None else Baseline(*estimates.inputs)
        out.png("accuracy_vs_depth.png", self._depth_plot(estimates, out.moment, baseline), tag=f"{self.name}/accuracy_vs_depth")
        if len(self.history) > 1:
            out.png("accuracy_vs_epoch.png", self._history_plot(baseline), tag=f"{self.name}/accuracy_vs_epoch")

    def _fit_layers(self, train: dict[str, torch.Tensor], evaluation: dict[str, torch.Tensor], result: LayerData,
                    out: MomentWriter, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Which held-out samples each layer's read-out gets right, and the method used (layers with NaN or inf left out,
        named with ``prefix`` in the manifest)."""
        usable = out.finite({f"{prefix}{p}": train[p] for p in self.layers if p in train})
        paths = [p for p in self.layers if f"{prefix}{p}" in usable and bool(torch.isfinite(evaluation[p]).all())]
        return fit_readouts({p: train[p] for p in paths}, result.train_label, {p: evaluation[p] for p in paths},
                            result.evaluation_label, self.seed, self._method())

    def _fit_baselines(self, result: LayerData, out: MomentWriter) -> FixedBaselines:
        """Fit the read-outs on the raw inputs and on the untrained layers; their results, kept when compute asked for it."""
        inputs = self._fit_inputs(result, out)
        untrained = None if result.untrained is None else self._fit_layers(*result.untrained, result, out, UNTRAINED)[0]
        record = {} if inputs is None or result.inputs is None else {
            "method": inputs[1], "features": int(result.inputs[0].shape[1]), "stored": result.inputs_stored}
        skipped = {key: why for key, why in out.skipped.items() if key == INPUT_BASELINE or key.startswith(UNTRAINED)}
        fixed = result.fixed or FixedBaselines(out.moment, "", result.evaluation_index.detach().cpu())
        fixed.fill(None if inputs is None else inputs[0], record, untrained, skipped)
        return fixed

    def _fit_inputs(self, result: LayerData, out: MomentWriter) -> tuple[np.ndarray, str] | None:
        """Which held-out samples the read-out on the raw inputs gets right, and its method (None: no baseline, said in
        the manifest)."""
        if result.inputs is None:
            if result.inputs_stored:
                out.skipped[INPUT_BASELINE] = result.inputs_stored
            return None
        train, held_out = result.inputs
        if not out.finite({INPUT_BASELINE: train}) or not bool(torch.isfinite(held_out).all()):
            return None
        return readout_correct(train, result.train_label, held_out, result.evaluation_label, self.seed, self._method())

    def _method(self) -> str:
        return "sklearn" if self.method == "sklearn" else "torch"

    def _metrics(self, result: LayerData, moment: str, methods: dict[str, str]) -> dict[str, Any]:
        """``metrics.json``'s layer part: accuracies, their intervals and how they were made, the history."""
        return {"accuracy": self.history[moment], "method": methods,
                "features": {path: int(result.train[path].shape[1]) for path in self.layers},
                "fit_split": self.fit_split, "eval_split": self.split, "layers_in_order": self.layers, "history": self.history,
                "interval": self.interval_history[moment], "interval_history": self.interval_history,
                "bootstrap": {"confidence": self.confidence, "resamples": self.resamples, "seed": self.seed,
                              "held_out_samples": len(result.evaluation_label), "resampled": BOOTSTRAP_RESAMPLED}}

    def _input_metrics(self, fixed: FixedBaselines, estimates: ReadoutEstimates) -> dict[str, Any]:
        """``metrics.json``'s ``input_baseline``: the raw inputs' accuracy, interval, method, width and reduction, and
        the moment it was fitted at (absent: none)."""
        if estimates.inputs is None or not fixed.input_record:
            return {}
        value, low, high = estimates.inputs
        return {INPUT_BASELINE: {"accuracy": value, "interval": [low, high], **fixed.input_record, "computed_at": fixed.moment}}

    def _held_out(self, result: LayerData, scores: ReadoutScores) -> dict[str, np.ndarray]:
        """``held_out.npz``: the held-out samples' dataset indices and labels, and which ones each read-out got right."""
        paths = list(scores.layers)
        arrays = {"index": result.evaluation_index.cpu().numpy(), "label": result.evaluation_label.cpu().numpy(),
                  "layers": np.array(paths, dtype=str),
                  "correct": np.stack([scores.layers[p] for p in paths]) if paths else np.zeros((0, len(result.evaluation_label)), bool)}
        if scores.inputs is not None:
            arrays["input_correct"] = scores.inputs
        if scores.untrained:
            arrays["untrained_layers"] = np.array(list(scores.untrained), dtype=str)
            arrays["untrained_correct"] = np.stack(list(scores.untrained.values()))
        return arrays

    def _scalars(self, estimates: ReadoutEstimates) -> dict[str, float]:
        """TensorBoard: each layer's accuracy and interval ends, and the raw inputs' under ``input_baseline``."""
        rows = {**estimates.layers, **({INPUT_BASELINE: estimates.inputs} if estimates.inputs is not None else {})}
        scalars = {f"{self.name}/{key}/{name}": value for key, e in rows.items()
                   for name, value in (("accuracy", e.value), ("accuracy_low", e.low), ("accuracy_high", e.high))}
        for path, e in (estimates.selectivity or {}).items():
            scalars.update({f"{self.name}/{path}/untrained_accuracy": estimates.untrained[path].value,  # type: ignore[index]
                            f"{self.name}/{path}/selectivity": e.value, f"{self.name}/{path}/selectivity_low": e.low,
                            f"{self.name}/{path}/selectivity_high": e.high})
        return scalars

    def _depth_plot(self, estimates: ReadoutEstimates, moment: str, baseline: Baseline | None) -> np.ndarray:
        missing = (np.nan, np.nan, np.nan)
        rows = np.array([estimates.layers.get(p, missing) for p in self.layers], dtype=float).reshape(-1, 3)
        untrained = None if estimates.untrained is None else [estimates.untrained[p].value if p in estimates.untrained else np.nan
                                                             for p in self.layers]
        title = f"Linear read-out accuracy by layer @ {moment}" + ("" if untrained is None else " (orange: at the initial weights)")
        return accuracy_bars(self.layers, list(rows[:, 0]), f"linear probe accuracy ({self.split})", title,
                             intervals=rows[:, 1:], baseline=baseline, untrained=untrained)

    def _history_plot(self, baseline: Baseline | None) -> np.ndarray:
        moments = list(self.history)
        series = {path: [self.history[m].get(path, np.nan) for m in moments] for path in self.layers}
        missing = [np.nan, np.nan]
        intervals = {path: [self.interval_history.get(m, {}).get(path, missing) for m in moments] for path in self.layers}
        return accuracy_lines(moments, series, "linear probe accuracy", "Linear read-out accuracy over training",
                              intervals=intervals, baseline=baseline)
