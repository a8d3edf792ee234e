"""``latent-probe --help`` lists every subcommand, Lightning's and the project's own, under the project's description."""

from __future__ import annotations

from latent_probe.cli.help import SUBCOMMANDS


def test_top_level_help_lists_every_subcommand(run_cli):
    result = run_cli("--help", shrink=False)
    assert result.code == 0
    assert result.out.startswith("usage: latent-probe") and "attach probes that show what its layers learned" in result.out
    for name in ("fit", "validate", "test", "predict", "probe", "compare", "list", "report", "layers"):
        assert f"\n  {name} " in result.out, name
    assert set(SUBCOMMANDS) == {"fit", "validate", "test", "predict", "probe", "compare", "list", "report", "layers"}


def test_own_subcommands_have_help_and_lightning_ones_keep_theirs(run_cli):
    assert run_cli("list", "--help", shrink=False).out.startswith("usage: latent-probe list")
    assert run_cli("report", "-h", shrink=False).out.startswith("usage: latent-probe report RUN_DIR")
    compare = run_cli("compare", "--help", shrink=False)
    assert compare.code == 0 and compare.out.startswith("usage: latent-probe compare --config A.yaml --ckpt_path A.ckpt --reference B")
    assert "--layers" in compare.out and "--max_samples" in compare.out and "--every_n_epochs" not in compare.out
    fit = run_cli("fit", "--help", shrink=False)
    assert fit.code == 0 and "--data_spec" in fit.out and "--weights" in fit.out and "--probes" in fit.out


def test_no_subcommand_is_the_help_and_exit_2(run_cli):
    result = run_cli(shrink=False)
    assert result.code == 2 and "subcommands:" in result.out
