"""``latent-probe report RUN_DIR``: one self-contained HTML page of a run (config, metrics, every probe artifact).

Its pictures are embedded as data URIs up to a size cap (``embedded_images``): the page shows them alone, away from
the run folder; a picture over the cap is linked by relative path and the page says so.

It imports no probe: what a probe folder holds is described by the moments' ``manifest.json``. A run folder may come
from someone else, so the report reads it through ``run_files``: nothing outside the run, only regular files, sizes
capped; what it leaves out is listed on the page under "Not read".
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tensorboard.backend.event_processing.event_accumulator import DEFAULT_SIZE_GUIDANCE, EventAccumulator
from tensorboard.backend.event_processing.io_wrapper import IsSummaryEventsFile

from latent_probe.artifacts.embedded_images import Pictures
from latent_probe.artifacts.files import write_text_atomic
from latent_probe.artifacts.layout import MANIFEST_NAME, probes_dir
from latent_probe.artifacts.run_files import (
    CONFIG_MAX_BYTES,
    DIRECTORY,
    EVENTS_MAX_BYTES,
    FILE,
    MANIFEST_MAX_BYTES,
    MISSING,
    TABLE_MAX_BYTES,
    list_run_dir,
    read_run_bytes,
    read_run_json,
    run_entry_kind,
    run_folder,
)
from latent_probe.errors import ConfigError

IMAGE_SUFFIXES = {".png", ".gif", ".jpg", ".jpeg", ".svg"}
REPORT_NAME = "report.html"
# One value kept per tag: the reservoir always keeps the newest, which is all the report shows (memory stays small).
NEWEST_ONLY = dict.fromkeys(DEFAULT_SIZE_GUIDANCE, 1)


@dataclass
class Moment:
    """One probe's artifacts at one moment."""

    name: str
    manifest: dict[str, Any] = field(default_factory=dict)
    images: list[Path] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    mtime: float = 0.0


def final_scalars(run_dir: Path, skipped: list[str]) -> dict[str, float]:
    """The last logged value of every TensorBoard scalar in the run, read from its event files that pass ``event_file``."""
    scalars: dict[str, float] = {}
    for path, kind in list_run_dir(run_dir, run_dir):
        if not IsSummaryEventsFile(path.name) or not event_file(run_dir, path, kind, skipped):
            continue
        try:
            events = EventAccumulator(str(path), size_guidance=NEWEST_ONLY).Reload()
        except Exception as error:  # a stranger's event file may fail anywhere in TensorBoard's reader (MemoryError too)
            skipped.append(f"{path.name}: could not be read ({type(error).__name__})")
            continue
        for tag in events.Tags().get("scalars", []):
            if tag != "hp_metric" and events.Scalars(tag):  # Lightning's placeholder
                scalars[tag] = events.Scalars(tag)[-1].value  # files in name order (their start time), like TensorBoard
    return dict(sorted(scalars.items()))


def event_file(run_dir: Path, path: Path, kind: str, skipped: list[str]) -> bool:
    """Whether TensorBoard may read ``path``: a regular file of the run, no symlink, under ``EVENTS_MAX_BYTES``.

    TensorBoard opens the file by its name again for every 16 MB it reads, so a symlink could be pointed elsewhere
    between this check and its reads: symlinked event files are refused, even those that stay inside the run.
    """
    size = path.stat().st_size if kind == FILE else 0
    if kind == FILE and path.is_symlink():
        kind = "is a symlink (TensorBoard would follow it on every read)"
    elif size > EVENTS_MAX_BYTES:
        kind = f"is {size:,} bytes, over the cap of {EVENTS_MAX_BYTES:,}"
    if kind != FILE:
        skipped.append(f"{path.name}: {'is a directory' if kind == DIRECTORY else kind}; its scalars are not shown")
    return kind == FILE


def probe_description(moments: list[Moment]) -> str:
    """What the newest manifest of a probe folder says the probe shows (empty for runs without manifests)."""
    return next((str(m.manifest.get("description", "")) for m in moments if m.manifest.get("description")), "")


def read_json(run_dir: Path, path: Path) -> Any:
    """A JSON table's content, or a note of why it could not be read (a truncated file shows as such, not as a crash)."""
    try:
        return read_run_json(run_dir, path, TABLE_MAX_BYTES)
    except ConfigError as error:
        return {"could not be read": str(error)}


def read_config(run_dir: Path) -> str:
    """``config.yaml``'s text (bytes that are not UTF-8 shown as replacement characters), or why it is not shown."""
    path = run_dir / "config.yaml"
    if run_entry_kind(run_dir, path) == MISSING:
        return "(no config.yaml)"
    try:
        return read_run_bytes(run_dir, path, CONFIG_MAX_BYTES).decode("utf-8", errors="replace")
    except ConfigError as error:
        return f"(not shown: {error})"


def read_moment_manifest(run_dir: Path, path: Path, skipped: list[str]) -> dict[str, Any]:
    """A moment's manifest; empty, and noted in ``skipped``, when it cannot be read or is not a mapping."""
    try:
        manifest = read_run_json(run_dir, path, MANIFEST_MAX_BYTES)
    except ConfigError as error:
        skipped.append(str(error))
        return {}
    return manifest if isinstance(manifest, dict) else {}


def read_moment(run_dir: Path, folder: Path, skipped: list[str]) -> Moment:
    """Images, JSON tables and other files of one moment folder (projector files excluded; nothing outside the run)."""
    moment = Moment(folder.name, mtime=folder.stat().st_mtime)  # a folder inside the run (``folders``)
    for path, kind in list_run_dir(run_dir, folder):
        if path.name.startswith(".") or kind == DIRECTORY:
            continue
        if kind != FILE:
            skipped.append(f"{path.relative_to(run_dir).as_posix()}: {kind}")
        elif path.name == MANIFEST_NAME:
            moment.manifest = read_moment_manifest(run_dir, path, skipped)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            moment.images.append(path)
        elif path.suffix == ".json":
            moment.tables[path.name] = read_json(run_dir, path)
        else:
            moment.files.append(path)
    return moment


def folders(run_dir: Path, folder: Path, skipped: list[str]) -> list[Path]:
    """The sub-folders of a run folder that stay inside the run; the others are noted in ``skipped``, files ignored."""
    entries = list_run_dir(run_dir, folder)
    skipped += [f"{path.relative_to(run_dir).as_posix()}: {kind}, not followed" for path, kind in entries if kind not in (FILE, DIRECTORY)]
    return [path for path, kind in entries if kind == DIRECTORY]


def probe_moments(run_dir: Path, skipped: list[str]) -> dict[str, list[Moment]]:
    """``{probe folder: moments newest first}``; folders leading out of the run are noted in ``skipped``."""
    root = probes_dir(run_dir)
    kind = run_entry_kind(run_dir, root)
    if kind != DIRECTORY:
        skipped += [f"probes: {kind}, not followed"] * (kind not in (MISSING, FILE))
        return {}
    result = {}
    for probe in folders(run_dir, root, skipped):
        moments = [read_moment(run_dir, m, skipped) for m in folders(run_dir, probe, skipped)]
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


def render_moment(run_dir: Path, moment: Moment, pictures: Pictures) -> str:
    """One moment's section (its pictures embedded or linked by ``pictures``)."""
    parts = [f"<h3>{html.escape(moment.name)}</h3>"]
    layers = [row for row in moment.manifest.get("layers") or [] if isinstance(row, dict)]
    if layers:
        read = ", ".join(layer_read(row) for row in layers)
        parts.append(f'<p class="about">Layers read: {html.escape(read)}</p>')
    parts.append('<div class="images">')
    parts += [pictures.figure(image) for image in moment.images]
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
section.probe{border-top:2px solid #ccc;margin-top:2em}.about{color:#444;max-width:60em}.note{color:#a33}
"""

# Counts the images that really loaded, so a headless browser test can read it from the DOM.
SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-loaded', ok + '/' + imgs.length);
});
"""


def render_skipped(skipped: list[str]) -> str:
    """The files of the run the report did not read or link, and why (empty when none)."""
    if not skipped:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in skipped)
    return f'<h2>Not read</h2><p class="about">The report reads only regular files inside the run:</p><ul>{items}</ul>'


def render_report(run_dir: Path) -> str:
    """The whole HTML page."""
    skipped: list[str] = []
    scalars = final_scalars(run_dir, skipped)
    probes = probe_moments(run_dir, skipped)
    pictures = Pictures(run_dir)
    probe_sections = []
    for probe, moments in probes.items():
        about = html.escape(probe_description(moments))
        body = "\n".join(render_moment(run_dir, m, pictures) for m in moments)
        probe_sections.append(f'<section class="probe"><h2>{html.escape(probe)}</h2><p class="about">{about}</p>{body}</section>')
    sections = [
        f"<h1>Run report</h1><p>{html.escape(str(run_dir.resolve()))}</p>{pictures.summary()}",
        "<h2>Final metrics</h2>" + (render_table([(k, f"{v:.4g}") for k, v in scalars.items()]) if scalars else "<p>none logged</p>"),
        "<h2>Config</h2><pre>" + html.escape(read_config(run_dir)) + "</pre>",
        render_skipped(skipped),
        *probe_sections,
    ]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>latent-probe report: {html.escape(run_dir.name)}</title>"
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>{''.join(sections)}</body></html>\n")


def write_report(run_dir: str | Path) -> Path:
    """Write ``RUN_DIR/report.html`` (pictures embedded, those over the cap linked relative to it) and return its path."""
    try:
        run_dir = run_folder(run_dir)
    except ConfigError as error:
        raise ConfigError(f"{error}. HINT: pass runs/<experiment>/version_<n>") from None
    if not any(os.path.lexists(run_dir / name) for name in ("config.yaml", "probes", "checkpoints", "hparams.yaml")) \
            and not list(run_dir.glob("events.out.tfevents.*")):
        raise ConfigError(f"{str(run_dir)!r} is not a run folder (no config.yaml, probes/, checkpoints/ or TensorBoard events). "
                          "HINT: pass runs/<experiment>/version_<n>")
    return write_text_atomic(run_dir / REPORT_NAME, render_report(run_dir))
