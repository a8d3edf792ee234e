"""A probe's earlier moments read back from its run folder: complete ones only, not the one being written, not one
repeating another firing; one never completed is warned about by name."""

from __future__ import annotations

import json

import pytest

from latent_probe.artifacts.layout import COMPLETE_MARKER, MANIFEST_NAME, moment_dir
from latent_probe.probing.earlier_moments import earlier_moments


def moment(run, name, manifest=None, complete=True):
    folder = moment_dir(run, "drift", name)
    folder.mkdir(parents=True)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest or {}))
    if complete:
        (folder / COMPLETE_MARKER).write_bytes(b"")
    return folder


def test_only_complete_moments_other_than_this_one_are_listed(tmp_path):
    kept = moment(tmp_path, "epoch=0000")
    moment(tmp_path, "fit_end", {"same_firing_as": "epoch=0000"})
    moment(tmp_path, "epoch=0002")  # the moment being written now (a stale folder of it)
    moment(tmp_path, "epoch=0001", complete=False)
    with pytest.warns(UserWarning, match=r"probe 'drift': .*epoch=0001 was never completed"):
        assert earlier_moments(tmp_path, "drift", "epoch=0002") == [kept]
    assert earlier_moments(tmp_path, "other", "fit_end") == [], "a probe without a folder has no earlier moment"
