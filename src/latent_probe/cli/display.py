"""The progress bar and model summary every CLI run gets: Lightning's rich ones, less what says nothing.

- the progress bar shows no ``v_num`` (the run's version, printed as ``0.000``; the run folder is printed at the end);
- the model summary leaves out a column that says nothing: FLOPs when all are 0 (no ``example_input_array``), Mode
  when every module trains (and then the ``Modules in train/eval mode`` lines), and a total of 0 FLOPs.

``--verbose`` (cli/quiet.py) shows both as Lightning prints them.
"""

from __future__ import annotations

from typing import Any

from pytorch_lightning.callbacks import RichModelSummary, RichProgressBar
from pytorch_lightning.utilities.model_summary.model_summary import get_formatted_model_size, get_human_readable_count

from latent_probe.cli.quiet import is_verbose

NOT_APPLICABLE = "n/a"
# column -> the values that say nothing when every row holds one of them
SAYS_NOTHING = {"FLOPs": {"0", NOT_APPLICABLE}, "Mode": {"train", NOT_APPLICABLE}}
RIGHT_ALIGNED = {"Params", "Params per Device", "FLOPs", "In sizes", "Out sizes"}


class RunProgressBar(RichProgressBar):
    """Lightning's rich progress bar without ``v_num``."""

    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, Any]:
        """The logged metrics of the bar, without the logger's version."""
        items = super().get_metrics(trainer, pl_module)
        if not is_verbose():
            items.pop("v_num", None)
        return items


def useful_columns(summary_data: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """The columns of a summary, less those whose every value says nothing."""
    return [(name, values) for name, values in summary_data
            if not (name in SAYS_NOTHING and values and set(values) <= SAYS_NOTHING[name])]


class RunModelSummary(RichModelSummary):
    """Lightning's rich model summary without columns that say nothing."""

    @staticmethod
    def summarize(summary_data: list[tuple[str, list[str]]], total_parameters: int, trainable_parameters: int,
                  model_size: float, total_training_modes: dict[str, int], total_flops: int, **summarize_kwargs: Any) -> None:
        """Print the table of layers and the totals."""
        if is_verbose():
            RichModelSummary.summarize(summary_data, total_parameters, trainable_parameters, model_size, total_training_modes,
                                       total_flops, **summarize_kwargs)
            return
        from rich import get_console
        from rich.table import Table

        columns = useful_columns(summary_data)
        table = Table(header_style=summarize_kwargs.get("header_style", "bold magenta"))
        for name, _ in columns:
            table.add_column(name, justify="right" if name in RIGHT_ALIGNED else "left", style="dim" if name == " " else None,
                             no_wrap=name == "Name")
        for row in zip(*(values for _, values in columns)):
            table.add_row(*row)
        console = get_console()
        console.print(table)
        for label, value in summary_totals(total_parameters, trainable_parameters, model_size, total_training_modes, total_flops):
            console.print(f"[bold]{label}[/]: {value}")


def summary_totals(total: int, trainable: int, model_size: float, modes: dict[str, int], flops: int) -> list[tuple[str, str]]:
    """The summary's totals, less the mode counts when every module trains and the FLOPs when none were counted."""
    rows = [("Trainable params", get_human_readable_count(int(trainable))),
            ("Non-trainable params", get_human_readable_count(int(total - trainable))),
            ("Total params", get_human_readable_count(int(total))),
            ("Total estimated model params size (MB)", get_formatted_model_size(model_size))]
    if modes.get("eval"):
        rows += [("Modules in train mode", str(modes.get("train", 0))), ("Modules in eval mode", str(modes["eval"]))]
    if flops:
        rows.append(("Total FLOPs", get_human_readable_count(flops)))
    return rows
