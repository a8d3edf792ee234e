"""``latent-probe report``: a real run's page, rendered by headless Chromium when it is installed (also copied alone)."""

import json
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from helpers.probe_models import DIGITS
from helpers.report_pages import decoded, page_images
from helpers.runs import latest_run
from PIL import Image

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def probed_run(tmp_path_factory):
    """A real fit with two probes; the fit itself writes report.html."""
    from latent_probe.cli import main

    root = tmp_path_factory.mktemp("report")
    probes = [{"class_path": "EmbeddingDumper", "init_args": {"layers": ["bottleneck"], "max_samples": 120, "every_n_epochs": 1}},
              {"class_path": "LinearProbe", "init_args": {"max_samples": 150}}]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        main(["fit", *DIGITS, "--probes", json.dumps(probes), "--trainer.max_epochs=2", "--trainer.limit_train_batches=3",
              "--trainer.enable_progress_bar=false"])
    return latest_run(root, "digits")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_fit_writes_a_report_with_every_probe_and_moment(probed_run):
    page = (probed_run / "report.html").read_text()
    assert "<h2>embedding_dumper</h2>" in page and "<h2>linear_probe</h2>" in page
    assert page.index("<h3>fit_end</h3>") < page.index("<h3>epoch=0001</h3>") < page.index("<h3>epoch=0000</h3>")
    assert "val/acc" in page and "class_path" in page
    assert "http://" not in page and "https://" not in page, "the report must not need the network"


def test_every_picture_of_a_real_run_is_embedded(probed_run):
    """What lets the page travel alone, checked without a browser: no picture is a link to the run folder."""
    page = (probed_run / "report.html").read_text()
    images = page_images(page)
    assert len(images) >= 5 and "linked, not embedded" not in page
    for image in images:
        assert image["src"].startswith("data:image/"), image["src"][:100]
        assert decoded(image["src"])[1] == (probed_run / image["title"]).read_bytes(), image["title"]


def test_report_command_and_bad_folder(run_cli, probed_run):
    (probed_run / "report.html").unlink()
    result = run_cli("report", str(probed_run), shrink=False)
    assert result.code == 0 and (probed_run / "report.html").is_file()
    missing = run_cli("report", str(probed_run / "nope"), shrink=False)
    assert missing.code == 2 and "run folder not found" in missing.err


def run_chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)


def images_loaded(url: str) -> re.Match:
    """The page's ``loaded/total`` count of pictures once Chromium has loaded it."""
    dom = run_chromium("--virtual-time-budget=10000", "--dump-dom", url).stdout
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert loaded, "the page's load script did not run"
    return loaded


def test_chromium_renders_the_report_with_every_image(probed_run, tmp_path):
    if chromium() is None:
        pytest.skip("Chromium not found (Debian package `chromium`; .ci/run installs it)")
    url = (probed_run / "report.html").resolve().as_uri()
    loaded = images_loaded(url)
    assert loaded.group(1) == loaded.group(2) and int(loaded.group(2)) >= 5, loaded.group(0)
    alone = tmp_path / "mailed" / "report.html"  # the page alone, as sent by mail or downloaded: no run folder beside it
    alone.parent.mkdir()
    shutil.copyfile(probed_run / "report.html", alone)
    assert all(image["src"].startswith("data:") for image in page_images(alone.read_text()))
    moved = images_loaded(alone.resolve().as_uri())
    assert moved.group(0) == loaded.group(0), f"copied alone: {moved.group(0)}, in the run folder: {loaded.group(0)}"
    shot = tmp_path / "shot.png"
    run_chromium("--window-size=1280,2000", f"--screenshot={shot}", url)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.01, "the screenshot is blank"
