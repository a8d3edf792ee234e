"""``report.html`` travels: its pictures are data URIs up to a cap, those over it are linked and the page says so.

Pictures are read through ``run_files`` like the rest of the run: one symlinked outside, or that is no regular file,
is neither embedded nor linked. The real-browser check of a copied page is in ``test_report.py``.
"""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path

import numpy as np
import pytest
from helpers.report_pages import decoded, page_images
from PIL import Image

from latent_probe.artifacts import embedded_images, report
from latent_probe.artifacts.embedded_images import IMAGE_EMBED_MAX_BYTES, PAGE_EMBED_MAX_BYTES, Pictures
from latent_probe.artifacts.report import write_report

MOMENT = Path("probes") / "linear_probe" / "fit_end"
SUMMARY = "linked, not embedded (over the cap): {} only next to the run folder."


def picture(path: Path, value: int, fmt: str = "PNG") -> bytes:
    """Save a small picture at ``path`` and return its bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((6, 9, 3), value, np.uint8)).save(buffer, format=fmt)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


@pytest.fixture
def run(tmp_path) -> Path:
    """A run with one moment holding two PNGs and a GIF."""
    run = tmp_path / "run"
    (run / MOMENT).mkdir(parents=True)
    (run / "config.yaml").write_text("model: M\n")
    picture(run / MOMENT / "a.png", 40)
    picture(run / MOMENT / "b.png", 200)
    picture(run / MOMENT / "steps.gif", 120, "GIF")
    return run


def figures(run: Path) -> tuple[str, dict[str, dict[str, str]]]:
    """Write the report; its page and its pictures by run file."""
    page = write_report(run).read_text()
    return page, {image["title"]: image for image in page_images(page)}


def sparse(path: Path, size: int) -> None:
    """A file of ``size`` bytes that uses no disk and was never written."""
    with open(path, "wb") as handle:
        handle.truncate(size)


def test_the_caps_are_a_few_megabytes():
    assert IMAGE_EMBED_MAX_BYTES == 2_000_000 and PAGE_EMBED_MAX_BYTES == 20_000_000


def test_small_pictures_are_embedded_byte_for_byte(run):
    page, images = figures(run)
    assert sorted(images) == [(MOMENT / name).as_posix() for name in ("a.png", "b.png", "steps.gif")]
    for rel, image in images.items():
        mime, data = decoded(image["src"])
        assert data == (run / rel).read_bytes() and mime == {".png": "image/png", ".gif": "image/gif"}[Path(rel).suffix]
    assert "linked, not embedded" not in page and 'class="note"' not in page


def test_a_picture_over_the_cap_is_linked_unread_and_the_page_says_so(run, monkeypatch):
    sparse(run / MOMENT / "huge.png", IMAGE_EMBED_MAX_BYTES + 1)
    read = []
    monkeypatch.setattr(embedded_images, "read_run_bytes", lambda root, path, cap: read.append(Path(path).name)
                        or report.read_run_bytes(root, path, cap))
    page, images = figures(run)
    huge = (MOMENT / "huge.png").as_posix()
    assert images[huge]["src"] == huge and "huge.png" not in read and sorted(read) == ["a.png", "b.png", "steps.gif"]
    assert "huge.png<br><span class=\"note\">linked, not embedded (over the cap): 2,000,001 bytes, over the cap of " \
           "2,000,000 per picture; it shows only next to the run folder</span>" in page
    assert f"1 picture {SUMMARY.format('it shows')}" in page
    assert page.index(SUMMARY.format("it shows")) < page.index("<h2>Config</h2>"), "the summary is at the top"
    assert all(image["src"].startswith("data:") for rel, image in images.items() if rel != huge)


def test_pictures_past_the_page_cap_are_linked(run, monkeypatch):
    size = (run / MOMENT / "a.png").stat().st_size + (run / MOMENT / "b.png").stat().st_size
    monkeypatch.setattr(report, "Pictures", functools.partial(Pictures, page_cap=size))
    page, images = figures(run)
    assert [images[(MOMENT / name).as_posix()]["src"][:5] for name in ("a.png", "b.png")] == ["data:"] * 2
    assert images[(MOMENT / "steps.gif").as_posix()]["src"] == (MOMENT / "steps.gif").as_posix()
    assert f"over what is left of the page&#x27;s cap of {size:,} bytes of pictures" in page
    assert f"1 picture {SUMMARY.format('it shows')}" in page
    (run / MOMENT / "c.gif").write_bytes((run / MOMENT / "steps.gif").read_bytes())
    assert f"2 pictures {SUMMARY.format('they show')}" in write_report(run).read_text()


def test_a_picture_symlinked_outside_is_neither_embedded_nor_linked(run, tmp_path):
    secret = picture(tmp_path / "secret.png", 7)
    sparse(tmp_path / "huge.png", IMAGE_EMBED_MAX_BYTES + 1)
    (run / MOMENT / "stolen.png").symlink_to(tmp_path / "secret.png")
    (run / MOMENT / "huge.png").symlink_to(tmp_path / "huge.png")
    page, images = figures(run)
    assert not any(name in rel for rel in images for name in ("stolen", "huge"))
    assert all(decoded(image["src"])[1] != secret for image in images.values()) and "linked, not embedded" not in page
    assert "fit_end/stolen.png: is a symlink leading outside the run" in page


def test_pictures_swapped_after_the_listing_are_not_read(run, tmp_path):
    """``Pictures`` checks each file again as it reads it: one turned into a symlink out or a FIFO since is not read."""
    picture(tmp_path / "secret.png", 7)
    pictures = Pictures(run)
    (run / MOMENT / "a.png").unlink()
    (run / MOMENT / "a.png").symlink_to(tmp_path / "secret.png")
    (run / MOMENT / "b.png").unlink()
    os.mkfifo(run / MOMENT / "b.png")
    out, fifo = pictures.figure(run / MOMENT / "a.png"), pictures.figure(run / MOMENT / "b.png")  # a FIFO never blocks
    assert "<img" not in out + fifo and pictures.linked == [] and pictures.embedded_bytes == 0
    assert "not shown: &#x27;" in out and "is a symlink leading outside the run" in out
    assert "is not a regular file (a FIFO)" in fifo


def test_picture_names_are_escaped(run):
    name = 'x"<b>&.png'
    picture(run / MOMENT / name, 90)
    page, images = figures(run)
    image = images[(MOMENT / name).as_posix()]
    assert image["alt"] == name and decoded(image["src"])[1] == (run / MOMENT / name).read_bytes()
    assert "<b>" not in page and "x&quot;&lt;b&gt;&amp;.png" in page
