"""The README's promise: the quickstart trains seed 003's ring to >= 99 % validation accuracy."""

from helpers.paths import CONFIGS
from helpers.runs import latest_run
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def test_quickstart_reaches_99_percent(run_cli, tmp_path):
    result = run_cli("fit", "--config", str(CONFIGS / "quickstart.yaml"), "--trainer.enable_progress_bar=false", shrink=False)
    assert result.code == 0, result.err
    run = latest_run(tmp_path, "quickstart")
    events = EventAccumulator(str(run)).Reload()
    assert events.Scalars("val/acc")[-1].value >= 0.99
    assert (run / "report.html").is_file() and (run / "probes" / "layer_transform_recorder" / "fit_end" / "steps.gif").is_file()
