"""``latent-probe report`` on folders that are not runs, or runs with broken files: one line, or a report that says
what it could not read — never a traceback."""

from __future__ import annotations


def test_a_folder_that_is_not_a_run_is_one_line(run_cli, tmp_path):
    (tmp_path / "photos").mkdir()
    result = run_cli("report", "photos", shrink=False)
    assert result.code == 2 and "'photos' is not a run folder" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "photos" / "report.html").exists()


def test_broken_files_in_a_run_are_reported_not_crashed_on(run_cli, tmp_path):
    run = tmp_path / "runs" / "x" / "version_0"
    moment = run / "probes" / "linear_probe" / "fit_end"
    moment.mkdir(parents=True)
    (run / "config.yaml").write_bytes(b"model: \xff\xfe broken bytes\n")
    (moment / "metrics.json").write_text('{"accuracy": {"act": 0.9')  # truncated by a killed write
    (moment / "manifest.json").write_text("[not a manifest")
    result = run_cli("report", str(run), shrink=False)
    assert result.code == 0, result.err[-2000:]
    page = (run / "report.html").read_text()
    assert "could not be read" in page and "JSONDecodeError" in page and "broken bytes" in page
