"""``python -m latent_probe.cli``: the ``latent-probe`` command."""

from latent_probe.cli.main import main

if __name__ == "__main__":
    main()
