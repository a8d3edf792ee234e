"""examples/notebook.ipynb runs in a real kernel (the venv's own python, nothing registered) and shows the probes'
pictures; ``latent_probe.probe`` displays pictures only in a kernel (or with ``show=True``) and never imports IPython."""

from __future__ import annotations

import json
import sys
import types

import pytest
import torch
from helpers.paths import REPO
from torchvision.datasets import FakeData
from torchvision.transforms import ToTensor

import latent_probe

NOTEBOOK = REPO / "examples" / "notebook.ipynb"


def test_the_committed_notebook_has_no_outputs():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code and all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


@pytest.mark.slow
def test_the_example_notebook_runs_and_shows_the_probes_pictures(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    # A kernel spec of this very python in a temporary folder: no `jupyter kernelspec install`, no network.
    spec = tmp_path / "kernels" / "latent-probe-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                                  "display_name": "latent-probe test", "language": "python"}))
    for name, folder in (("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):  # nothing written under $HOME
        monkeypatch.setenv(name, str(tmp_path / folder))
    work = tmp_path / "work"
    work.mkdir()
    manager = KernelManager(kernel_name="latent-probe-test", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, km=manager, timeout=300, resources={"metadata": {"path": str(work)}}).execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    pictures = [output for output in outputs if output.output_type == "display_data" and "image/png" in output.data]
    assert len(pictures) >= 4  # EmbeddingDumper's scatter, thumbnails and centroid distances; LinearProbe's accuracy
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "embedding_dumper · avgpool scatter" in text and "linear_probe · accuracy vs depth" in text
    assert "linear probe accuracy" in text
    run = work / "runs" / "notebook_digits" / "version_0"
    assert (run / "report.html").is_file() and str(run / "report.html") in text


def tiny_run(tmp_path, **options):
    """``latent_probe.probe`` on a small conv net over FakeData: EmbeddingDumper (3 pictures) and LinearProbe (1)."""
    data = FakeData(48, (1, 16, 16), 10, transform=ToTensor())
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 10))
    probes = [{"class_path": "EmbeddingDumper", "init_args": {"layers": ["1"], "projector": False}},
              {"class_path": "LinearProbe", "init_args": {"layers": ["1", "3"]}}]
    return latent_probe.probe(net, data, probes=probes, out=tmp_path / "runs" / "nb", accelerator="cpu", **options)


@pytest.fixture
def fake_kernel(monkeypatch):
    """A loaded IPython whose shell is a kernel; returns the list its ``display`` appends ``(format, bytes)`` to."""
    shown: list[tuple[str, bytes]] = []
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: types.SimpleNamespace(kernel=object())
    display = types.ModuleType("IPython.display")
    display.Image = lambda data, format: (format, data)
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


def test_in_a_kernel_the_pictures_are_shown_unless_show_is_false(tmp_path, fake_kernel, capsys):
    tiny_run(tmp_path, show=False)
    assert fake_kernel == [] and "·" not in capsys.readouterr().out
    run = tiny_run(tmp_path)
    assert run == (tmp_path / "runs" / "nb" / "version_1").resolve()
    assert len(fake_kernel) == 4 and all(form == "png" and data.startswith(b"\x89PNG") for form, data in fake_kernel)
    captions = [line for line in capsys.readouterr().out.splitlines() if "·" in line]
    assert captions[0] == "embedding_dumper · 1 centroid distances (1/3)" and captions[-1] == "linear_probe · accuracy vs depth (1/1)"


def test_a_plain_process_shows_nothing_and_never_imports_ipython(tmp_path, monkeypatch, capsys):
    for name in [name for name in sys.modules if name == "IPython" or name.startswith("IPython.")]:
        monkeypatch.delitem(sys.modules, name)
    run = tiny_run(tmp_path)
    assert (run / "probes" / "embedding_dumper" / "probe" / "1_scatter.png").is_file()
    assert "IPython" not in sys.modules and "·" not in capsys.readouterr().out


def test_the_pictures_shown_are_capped_per_probe(tmp_path, fake_kernel, capsys):
    from latent_probe.cli.notebook_display import show_pictures

    run = tiny_run(tmp_path, show=False)
    assert show_pictures(run, "probe", ["linear_probe", "embedding_dumper", "unit_stats"], per_probe=2) == 3
    captions = [line for line in capsys.readouterr().out.splitlines() if "·" in line]
    assert captions == ["linear_probe · accuracy vs depth (1/1)", "embedding_dumper · 1 centroid distances (1/3)",
                        "embedding_dumper · 1 scatter (2/3; 1 more in report.html)"]
