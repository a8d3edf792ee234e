"""A matplotlib figure for the probes' pictures, detached from pyplot (no global backend switch, no leaks)."""

from __future__ import annotations

from matplotlib.figure import Figure


def new_figure(width: float = 6.0, height: float = 6.0, dpi: int = 100) -> Figure:
    """A figure owned by the caller, not by pyplot's global state; rendered later on an Agg canvas."""
    figure = Figure(figsize=(width, height), dpi=dpi)
    figure.set_layout_engine("constrained")
    return figure
