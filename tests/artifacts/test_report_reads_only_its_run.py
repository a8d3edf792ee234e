"""A run folder is data from a stranger: ``latent-probe report`` (and the writer's ``read_manifest``/``is_complete``) read
only regular files inside the run, each under a cap, never follow a symlink out of it and never block.

Every case builds a real run folder by hand (config, a TensorBoard event file, a probe moment with its manifest,
table, picture and marker), plants one hostile entry, and writes the report with a time limit.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers.report_pages import decoded, page_images
from PIL import Image
from torch.utils.tensorboard import SummaryWriter

from latent_probe.artifacts.report import write_report
from latent_probe.artifacts.run_files import (
    DIRECTORY,
    FILE,
    MISSING,
    inside_run,
    list_run_dir,
    read_run_bytes,
    read_run_json,
    run_entry_kind,
)
from latent_probe.artifacts.tensorboard_crc import masked_crc32c
from latent_probe.artifacts.writer import is_complete, read_manifest
from latent_probe.errors import ConfigError

SECRET = "TOP-SECRET-4f2a"
MOMENT = Path("probes") / "linear_probe" / "fit_end"


def make_run(root: Path) -> Path:
    """A run folder like a fit leaves: config.yaml, an event file with val/acc, one probe moment written to the end."""
    run = root / "runs" / "x" / "version_0"
    moment = run / MOMENT
    moment.mkdir(parents=True)
    (run / "config.yaml").write_text("model:\n  class_path: DeepMLP\n")
    with SummaryWriter(str(run)) as tensorboard:
        tensorboard.add_scalar("val/acc", 0.75, 1)
    (moment / "manifest.json").write_text(json.dumps({"probe": "linear_probe", "description": "accuracy by depth",
                                                      "layers": [{"layer": "encoder"}]}))
    (moment / "metrics.json").write_text(json.dumps({"accuracy": {"encoder": 0.9}}))
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(moment / "picture.png")
    (moment / ".complete").write_bytes(b"")
    return run


@pytest.fixture
def run(tmp_path) -> Path:
    return make_run(tmp_path)


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder beside the run holding what must never reach the report: a secret file, picture, table, moment."""
    folder = tmp_path / "outside"
    (folder / "moment").mkdir(parents=True)
    (folder / "secret.txt").write_text(f"password: {SECRET}\n")
    (folder / "secret.json").write_text(json.dumps({SECRET: 1}))
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "secret.png")
    (folder / "moment" / "manifest.json").write_text(json.dumps({"description": SECRET}))
    (folder / "moment" / "metrics.json").write_text(json.dumps({SECRET: 2}))
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "moment" / "leak.png")
    return folder


def unblock_fifos(folder: Path) -> None:
    """Open every FIFO under ``folder`` for writing and close it: a reader stuck on one gets end-of-file."""
    for path in folder.rglob("*"):
        if path.is_fifo():
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass  # no reader waiting on this one


def call_within(seconds: float, function, *args, unblock: Path | None = None):
    """``function(*args)`` on a thread; fails the test if it has not returned within ``seconds`` (blocked)."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # handed to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if unblock is not None:
            unblock_fifos(unblock)
        pytest.fail(f"{getattr(function, '__name__', function)} blocked for {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def report(run: Path) -> str:
    """Write the run's report within 30 s and return the page."""
    return call_within(30, write_report, run, unblock=run).read_text()


# The command in a child limited to 8 GB of address space: a regression that reads /dev/zero dies there, not here.
LIMITED_COMMAND = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 33, 1 << 33)); "
                   "from latent_probe.cli import main; main(['report', sys.argv[1]])")


def command_in_a_child(run: Path) -> str:
    """``latent-probe report RUN`` in a memory-limited child that must end within 60 s; returns the page."""
    done = subprocess.run([sys.executable, "-c", LIMITED_COMMAND, str(run)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return (run / "report.html").read_text()


def images(page: str) -> list[str]:
    """The run file each picture of the page shows (its title), embedded or linked."""
    return [image["title"] for image in page_images(page)]


def remove(path: Path) -> None:
    """Remove a file, symlink, FIFO or folder tree (nothing when absent)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def link(path: Path, target: Path | str) -> None:
    """Replace ``path`` by a symlink to ``target``."""
    remove(path)
    path.symlink_to(target)


def fifo(path: Path) -> None:
    """Replace ``path`` by a FIFO that nobody writes to."""
    remove(path)
    os.mkfifo(path)


def sparse(path: Path, size: int) -> None:
    """Replace ``path`` by a sparse file of ``size`` bytes (no disk used, nothing written)."""
    remove(path)
    with open(path, "wb") as handle:
        handle.truncate(size)


# ----- the intact run: the baseline every case departs from ---------------------------------------------------------
def test_an_intact_run_is_reported_whole(run):
    page = report(run)
    assert "val/acc" in page and "0.75" in page and "DeepMLP" in page and "accuracy by depth" in page
    assert images(page) == [(MOMENT / "picture.png").as_posix()] and "Not read" not in page
    assert decoded(page_images(page)[0]["src"]) == ("image/png", (run / MOMENT / "picture.png").read_bytes())


# ----- symlinks leading out of the run -----------------------------------------------------------------------------
def test_config_symlinked_to_a_secret_outside_is_not_shown(run, outside):
    link(run / "config.yaml", outside / "secret.txt")
    page = report(run)
    assert SECRET not in page and "is a symlink leading outside the run" in page and "val/acc" in page


def test_a_moment_folder_symlinked_outside_is_skipped_with_a_note(run, outside):
    (run / MOMENT.parent / "epoch=0000").symlink_to(outside / "moment", target_is_directory=True)
    page = report(run)
    assert SECRET not in page and "leak.png" not in page and "<h3>epoch=0000</h3>" not in page
    assert "probes/linear_probe/epoch=0000: is a symlink leading outside the run" in page
    assert "<h3>fit_end</h3>" in page, "the rest of the run is still reported"


def test_probe_folders_and_probes_symlinked_outside_are_not_followed(run, outside, tmp_path):
    (run / "probes" / "evil").symlink_to(outside, target_is_directory=True)
    page = report(run)
    assert SECRET not in page and "<h2>evil</h2>" not in page and "probes/evil: is a symlink leading outside" in page
    other = make_run(tmp_path / "other")
    link(other / "probes", outside)
    page = report(other)
    assert SECRET not in page and "probes: is a symlink leading outside the run" in page


def test_images_tables_manifests_and_files_symlinked_outside_are_neither_read_nor_linked(run, outside):
    moment = run / MOMENT
    (moment / "stolen.png").symlink_to(outside / "secret.png")
    (moment / "stolen.json").symlink_to(outside / "secret.json")
    (moment / "stolen.txt").symlink_to(outside / "secret.txt")
    link(moment / "manifest.json", outside / "moment" / "manifest.json")
    page = report(run)
    assert SECRET not in page and not any("stolen" in rel for rel in images(page))
    assert 'href="probes/linear_probe/fit_end/stolen.txt"' not in page
    assert [decoded(image["src"])[1] for image in page_images(page)] == [(moment / "picture.png").read_bytes()]
    for name in ("stolen.png", "stolen.json", "stolen.txt", "manifest.json"):
        assert f"fit_end/{name}: is a symlink leading outside the run" in page


def test_an_event_file_symlinked_outside_is_not_read(run, outside):
    with SummaryWriter(str(outside / "tb")) as tensorboard:
        tensorboard.add_scalar(f"leak/{SECRET}", 1.0, 1)
    source = next((outside / "tb").glob("events.out.tfevents.*"))
    (run / "events.out.tfevents.9999999999.elsewhere").symlink_to(source)
    page = report(run)
    assert SECRET not in page and "val/acc" in page and "events.out.tfevents.9999999999.elsewhere: is a symlink" in page


def test_a_folder_symlinked_outside_is_refused_even_when_a_link_there_leads_back_in(run, outside):
    (outside / "back.yaml").symlink_to(run / "config.yaml")
    (run / "door").symlink_to(outside, target_is_directory=True)
    assert os.path.realpath(run / "door" / "back.yaml") == os.path.realpath(run / "config.yaml")
    assert not inside_run(run, run / "door" / "back.yaml") and inside_run(run, run / "config.yaml")
    with pytest.raises(ConfigError, match="lies in a folder symlinked outside the run"):
        read_run_bytes(run, run / "door" / "back.yaml", 1000)


# ----- FIFOs, devices, sockets: never opened for reading, never blocking ---------------------------------------------
@pytest.mark.parametrize("name", ["config.yaml", str(MOMENT / "manifest.json"), str(MOMENT / "metrics.json"),
                                  str(MOMENT / "picture.png"), "events.out.tfevents.9999999999.fifo", "probes"])
def test_a_fifo_anywhere_in_the_run_never_blocks_the_report(run, name):
    fifo(run / name)
    page = report(run)
    said = [f"{Path(name).name}&#x27; is not a regular file (a FIFO)", f"{Path(name).as_posix()}: is not a regular file (a FIFO)"]
    assert any(text in page for text in said)
    assert "val/acc" in page and Path(name).as_posix() not in images(page)


def test_the_command_never_blocks_nor_reads_endlessly(run):
    fifo(run / "config.yaml")
    for name in (MOMENT / "metrics.json", MOMENT / "manifest.json", "events.out.tfevents.9999999999.zero"):
        link(run / name, "/dev/zero")
    try:
        os.mknod(run / MOMENT / "zero.json", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero's twin, inside the run
    except PermissionError:
        pass  # making a device node needs root; the rest of the case holds without it
    page = command_in_a_child(run)
    assert "config.yaml&#x27; is not a regular file (a FIFO)" in page and "val/acc" in page
    assert page.count("is a symlink leading outside the run") == 3
    if (run / MOMENT / "zero.json").exists():
        assert "fit_end/zero.json: is not a regular file (a character device)" in page


def test_a_socket_in_the_run_is_not_read(run, monkeypatch):
    monkeypatch.chdir(run / MOMENT)  # a socket's path must be short: bind it relative to its folder
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("socket.json")
        page = report(run)
    assert "fit_end/socket.json: is not a regular file (a socket)" in page


def test_the_writer_never_blocks_on_a_moment_folder_of_a_received_run(run, outside):
    moment = run / MOMENT
    fifo(moment / "manifest.json")
    assert call_within(10, read_manifest, moment, unblock=run) == {}
    fifo(moment / ".complete")
    assert call_within(10, is_complete, moment, unblock=run) is False
    link(moment / ".complete", outside / "secret.txt")
    link(moment / "manifest.json", outside / "moment" / "manifest.json")
    assert not is_complete(moment) and read_manifest(moment) == {} and read_manifest(moment, run) == {}
    (moment / "own.json").write_text('{"probe": "mine"}')
    link(moment / "manifest.json", moment / "own.json")  # a symlink that stays inside the run is read
    assert read_manifest(moment) == {"probe": "mine"}


# ----- sizes --------------------------------------------------------------------------------------------------------
def test_oversized_files_are_refused_without_being_read(run):
    sparse(run / MOMENT / "metrics.json", 30_000_000)
    sparse(run / "config.yaml", 2_000_000)
    sparse(run / MOMENT / "manifest.json", 2_000_000)
    page = report(run)
    assert "metrics.json&#x27; is 30,000,000 bytes, over the cap of 20,000,000" in page
    assert "config.yaml&#x27; is 2,000,000 bytes, over the cap of 1,000,000" in page
    assert "manifest.json&#x27; is 2,000,000 bytes, over the cap of 1,000,000" in page
    assert "accuracy by depth" not in page and read_manifest(run / MOMENT) == {}


def test_an_oversized_event_file_is_skipped_with_a_note(run):
    sparse(run / "events.out.tfevents.9999999999.huge", (1 << 30) + 1)
    page = report(run)
    assert "events.out.tfevents.9999999999.huge: is 1,073,741,825 bytes, over the cap" in page and "val/acc" in page


def test_an_event_record_claiming_a_terabyte_never_crashes_the_report(run):
    header = struct.pack("<Q", 1 << 40)
    (run / "events.out.tfevents.9999999999.crafted").write_bytes(header + struct.pack("<I", masked_crc32c(header)) + b"x" * 64)
    page = report(run)
    assert "val/acc" in page and "Traceback" not in page


# ----- JSON depth ---------------------------------------------------------------------------------------------------
def test_deeply_nested_json_is_refused_before_json_recurses(run):
    (run / MOMENT / "metrics.json").write_text("[" * 200_000)
    (run / MOMENT / "manifest.json").write_text('{"a": ' * 100_000 + "1" + "}" * 100_000)
    page = report(run)
    assert "metrics.json&#x27; nests 200,000 levels deep, over the cap of 64" in page
    assert "manifest.json&#x27; nests 100,000 levels deep" in page
    assert read_manifest(run / MOMENT) == {} and "accuracy by depth" not in page


def test_the_depth_cap_counts_brackets_outside_strings_only(run):
    table = run / MOMENT / "metrics.json"
    table.write_text(json.dumps({"text": "[" * 1000 + '\\"{', "list": [[[1]]]}))
    assert read_run_json(run, table, 1000_000, max_depth=4)["list"] == [[[1]]]
    table.write_text("[" * 4 + "]" * 4)
    assert read_run_json(run, table, 100, max_depth=4) == [[[[]]]]
    with pytest.raises(ConfigError, match="nests 5 levels deep, over the cap of 4"):
        table.write_text("[" * 5 + "]" * 5)
        read_run_json(run, table, 100, max_depth=4)


# ----- symlinks that stay inside the run are fine ----------------------------------------------------------------------
def test_symlinks_inside_the_run_are_followed(run):
    (run / "configs").mkdir()
    (run / "configs" / "real.yaml").write_text("model: ShownThroughALink\n")
    link(run / "config.yaml", Path("configs") / "real.yaml")
    (run / MOMENT / "again.png").symlink_to("picture.png")
    (run / MOMENT / "table.json").symlink_to("metrics.json")
    (run / MOMENT.parent / "epoch=0000").symlink_to("fit_end", target_is_directory=True)
    page = report(run)
    assert "ShownThroughALink" in page and "<h3>epoch=0000</h3>" in page and "Not read" not in page
    assert (MOMENT / "again.png").as_posix() in images(page) and page.count("<summary>table.json</summary>") == 2


# ----- what run_files says of each kind of entry ----------------------------------------------------------------------
def test_not_found_is_said_only_of_paths_that_do_not_exist(run):
    moment = run / MOMENT
    fifo(moment / "pipe")
    (moment / "dangling").symlink_to("nowhere")
    kinds = dict((path.name, kind) for path, kind in list_run_dir(run, moment))
    assert kinds["metrics.json"] == FILE and kinds["pipe"] == "is not a regular file (a FIFO)"
    assert kinds["dangling"] == "is a broken symlink" and run_entry_kind(run, moment / "nope") == MISSING
    assert run_entry_kind(run, moment) == DIRECTORY
    for path, message in [(moment, "is a directory"), (moment / "nope", "not found"), (moment / "pipe", "a FIFO"),
                          (moment / "dangling", "is a broken symlink")]:
        with pytest.raises(ConfigError, match=message):
            read_run_bytes(run, path, 1000)


# ----- the RUN_DIR argument -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("make", "message"), [
    (lambda path: None, "run folder not found: 'target'"),
    (lambda path: path.write_text("x"), "run folder 'target' is not a folder (a file)"),
    (lambda path: os.mkfifo(path), "run folder 'target' is not a folder (a FIFO)"),
    (lambda path: path.symlink_to("gone"), "run folder 'target' is a broken symlink"),
])
def test_a_run_dir_that_is_not_a_folder_is_one_line(run_cli, tmp_path, make, message):
    make(tmp_path / "target")
    result = call_within(30, lambda: run_cli("report", "target", shrink=False), unblock=tmp_path)
    lines = result.err.strip().splitlines()
    assert result.code == 2 and "Traceback" not in result.err, result.err[-2000:]
    assert lines == [f"latent-probe: error: {message}. HINT: pass runs/<experiment>/version_<n>"]
