"""``latent-probe report RUN_DIR``: one self-contained HTML page of a run (config, metrics, every probe artifact).

It imports no probe: what a probe folder holds is described by the moments' ``manifest.json``.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from latent_probe.artifacts.files import write_text_atomic
from latent_probe.artifacts.writer import MANIFEST_NAME, read_manifest
from latent_probe.errors import ConfigError

IMAGE_SUFFIXES = {".png", ".gif", ".jpg", ".jpeg", ".svg"}
REPORT_NAME = "report.html"


@dataclass
class Moment:
    """One probe's artifacts at one moment."""

    name: str
    manifest: dict[str, Any] = field(default_factory=dict)
    images: list[Path] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    mtime: float = 0.0


def final_scalars(run_dir: Path) -> dict[str, float]:
    """The last logged value of every TensorBoard scalar in the run."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0}).Reload()
    tags = [t for t in sorted(events.Tags().get("scalars", [])) if t != "hp_metric"]  # Lightning's placeholder
    return {tag: events.Scalars(tag)[-1].value for tag in tags}


def probe_description(moments: list[Moment]) -> str:
    """What the newest manifest of a probe folder says the probe shows (empty for runs without manifests)."""
    return next((str(m.manifest.get("description", "")) for m in moments if m.manifest.get("description")), "")


def read_json(path: Path) -> Any:
    """A JSON file's content, or a note of why it could not be read (a truncated file shows as such, not as a crash)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return {"could not be read": f"{type(error).__name__}: {str(error)[:200]}"}


def read_text(path: Path) -> str:
    """A text file's content; bytes that are not UTF-8 are shown as replacement characters."""
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as error:
        return f"(could not be read: {error.strerror})"


def read_moment(folder: Path) -> Moment:
    """Images, JSON tables and other files of one moment folder (projector files excluded)."""
    moment = Moment(folder.name, manifest=read_manifest(folder), mtime=folder.stat().st_mtime)
    for path in sorted(folder.iterdir()):
        if path.is_dir() or path.name.startswith(".") or path.name == MANIFEST_NAME:
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            moment.images.append(path)
        elif path.suffix == ".json":
            moment.tables[path.name] = read_json(path)
        else:
            moment.files.append(path)
    return moment


def probe_moments(run_dir: Path) -> dict[str, list[Moment]]:
    """``{probe folder: moments newest first}``."""
    root = run_dir / "probes"
    if not root.is_dir():
        return {}
    result = {}
    for probe in sorted(p for p in root.iterdir() if p.is_dir()):
        moments = [read_moment(m) for m in probe.iterdir() if m.is_dir()]
        result[probe.name] = sorted(moments, key=lambda m: (m.mtime, m.name), reverse=True)
    return result


def flatten(value: Any, prefix: str = "", depth: int = 3) -> list[tuple[str, str]]:
    """Key/value rows for a JSON value: nested dicts as dotted keys, long lists summarised."""
    if isinstance(value, dict) and depth > 0:
        rows = []
        for key, item in value.items():
            rows += flatten(item, f"{prefix}.{key}" if prefix else str(key), depth - 1)
        return rows
    return [(prefix, short_value(value))]


def short_value(value: Any) -> str:
    """A compact text for a metric value."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        flat = [v for v in value if not isinstance(v, list)]
        if len(value) <= 12 and len(flat) == len(value):
            return "[" + ", ".join(short_value(v) for v in value) + "]"
        return f"[{len(value)} values]"
    return str(value)


def render_table(rows: list[tuple[str, str]]) -> str:
    """An HTML table of key/value rows."""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def layer_read(row: dict[str, Any]) -> str:
    """``encoder``, plus the part read from a non-tensor output and how a big output was stored, when so."""
    layer, part, stored = str(row.get("layer", "?")), str(row.get("part") or ""), str(row.get("stored") or "")
    notes = [f"part {part}"] * bool(part and not layer.endswith(part)) + [stored] * bool(stored and stored != "as is")
    return f"{layer} ({'; '.join(notes)})" if notes else layer


def render_moment(run_dir: Path, moment: Moment) -> str:
    """One moment's section."""
    parts = [f"<h3>{html.escape(moment.name)}</h3>"]
    layers = [row for row in moment.manifest.get("layers") or [] if isinstance(row, dict)]
    if layers:
        read = ", ".join(layer_read(row) for row in layers)
        parts.append(f'<p class="about">Layers read: {html.escape(read)}</p>')
    parts.append('<div class="images">')
    for image in moment.images:
        rel = html.escape(image.relative_to(run_dir).as_posix())
        parts.append(f'<figure><img src="{rel}" alt="{html.escape(image.name)}" loading="eager">'
                     f"<figcaption>{html.escape(image.name)}</figcaption></figure>")
    parts.append("</div>")
    for name, table in moment.tables.items():
        parts.append(f"<details><summary>{html.escape(name)}</summary>{render_table(flatten(table))}</details>")
    if moment.files:
        links = ", ".join(f'<a href="{html.escape(f.relative_to(run_dir).as_posix())}">{html.escape(f.name)}</a>' for f in moment.files)
        parts.append(f"<p>Files: {links}</p>")
    return "\n".join(parts)


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;background:#fff}
h1{margin-bottom:0}table{border-collapse:collapse;font-size:13px;margin:.5em 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}
.images{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;max-width:48%}
figure img{max-width:100%;border:1px solid #ccc}figcaption{font-size:12px;color:#555}
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px;max-height:30em}
section.probe{border-top:2px solid #ccc;margin-top:2em}.about{color:#444;max-width:60em}
"""

# Counts the images that really loaded, so a headless browser test can read it from the DOM.
SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-loaded', ok + '/' + imgs.length);
});
"""


def render_report(run_dir: Path) -> str:
    """The whole HTML page."""
    config = run_dir / "config.yaml"
    scalars = final_scalars(run_dir)
    sections = [
        f"<h1>Run report</h1><p>{html.escape(str(run_dir.resolve()))}</p>",
        "<h2>Final metrics</h2>" + (render_table([(k, f"{v:.4g}") for k, v in scalars.items()]) if scalars else "<p>none logged</p>"),
        "<h2>Config</h2><pre>" + html.escape(read_text(config) if config.is_file() else "(no config.yaml)") + "</pre>",
    ]
    for probe, moments in probe_moments(run_dir).items():
        about = html.escape(probe_description(moments))
        body = "\n".join(render_moment(run_dir, m) for m in moments)
        sections.append(f'<section class="probe"><h2>{html.escape(probe)}</h2><p class="about">{about}</p>{body}</section>')
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>latent-probe report: {html.escape(run_dir.name)}</title>"
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>{''.join(sections)}</body></html>\n")


def write_report(run_dir: str | Path) -> Path:
    """Write ``RUN_DIR/report.html`` (images linked relative to it) and return its path."""
    run_dir = Path(run_dir)
    if run_dir.is_dir() and not any((run_dir / name).exists() for name in ("config.yaml", "probes", "checkpoints", "hparams.yaml")) \
            and not list(run_dir.glob("events.out.tfevents.*")):
        raise ConfigError(f"{str(run_dir)!r} is not a run folder (no config.yaml, probes/, checkpoints/ or TensorBoard events). "
                          "HINT: pass runs/<experiment>/version_<n>")
    if not run_dir.is_dir():
        raise ConfigError(f"run folder not found: {str(run_dir)!r}. HINT: pass runs/<experiment>/version_<n>")
    return write_text_atomic(run_dir / REPORT_NAME, render_report(run_dir))
