"""``latent-probe --help``: every subcommand, Lightning's and the project's own, under the project's description."""

from __future__ import annotations

from latent_probe.cli.compare_args import HELP as COMPARE_HELP

SUBCOMMANDS = {
    "fit": "train a model from a config (LightningCLI), probes firing at their moments",
    "validate": "run the validation loop once",
    "test": "run the test loop once (probes with moments: [test_end] fire)",
    "predict": "run the predict loop",
    "probe": "run the configured probes once on a model, no training (moment `probe`)",
    "compare": "a model's layers x a reference's (same architecture: a run, a checkpoint, weights, initial), linear CKA",
    "list": "list registered models, datamodules and probes, plugins included: list [models|datamodules|probes]",
    "report": "(re)write a run's report.html: report RUN_DIR",
    "layers": "list every module of a config's model: calls, output, the part a probe reads, which probes can read it",
}
DESCRIPTION = (
    "latent-probe: train any model from one config with PyTorch Lightning, and attach probes that show what its "
    "layers learned (embeddings and the projector, tiled filters, points moving through layers, influence maps, "
    "linear read-outs)."
)
HELP_FLAGS = ("-h", "--help")
VERBOSE_HELP = (
    "A run prints its model summary, its progress bar with the metrics, one line per moment its probes fired and where\n"
    "the run, its report and TensorBoard are. --verbose, given before the subcommand (latent-probe --verbose fit ...),\n"
    "or LATENT_PROBE_VERBOSE=1 also shows what Lightning prints besides (hardware, tips, its own deprecation warnings)."
)
VERSION_FLAG = "--version"  # prints ``latent-probe <version>``
OWN_USAGE = {
    "compare": COMPARE_HELP,
    "list": "usage: latent-probe list [models|datamodules|probes ...]\n\nList every registered component with the first line of its doc.",
    "report": "usage: latent-probe report RUN_DIR\n\nWrite RUN_DIR/report.html: the config, the final metrics and every probe artifact.",
    "layers": "usage: latent-probe layers --config X.yaml [--json] [options of fit]\n\nBuild the config's model and data, run one "
              "forward pass of 2 samples with every module hooked and list each module: its type, calls per pass, output, "
              "the part a probe reads and which of the config's probes (all registered ones if it has none) can read it. "
              "Nothing is trained, no run folder is made.",
}


def help_text() -> str:
    """The top-level help: usage, description, one line per subcommand."""
    width = max(map(len, SUBCOMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {text}" for name, text in SUBCOMMANDS.items())
    return (
        f"usage: latent-probe [-h] [{VERSION_FLAG}] [--verbose] {{{','.join(SUBCOMMANDS)}}} ...\n\n{DESCRIPTION}\n\n"
        f"subcommands:\n{rows}\n\n{VERBOSE_HELP}\n\n"
        "Run `latent-probe SUBCOMMAND --help` for a subcommand's options, e.g. latent-probe fit --help.\n"
    )


def wants_help(argv: list[str]) -> str | None:
    """The help text ``argv`` asks for (top level, or ``list``/``report``/``layers``/``compare``), else None (LightningCLI answers
    the rest)."""
    if not argv or argv[0] in HELP_FLAGS:
        return help_text()
    if argv[0] in OWN_USAGE and any(flag in argv[1:] for flag in HELP_FLAGS):
        return OWN_USAGE[argv[0]] + "\n"
    return None


def print_help(text: str) -> None:
    """Print a help text to standard output."""
    print(text, end="")
