"""The sink: atomic files, the moment writer (folder, manifest, completion marker, TensorBoard), projector, report.

Nothing here imports a probe: the report reads what the writer's manifests say.
"""

from latent_probe.artifacts.tensorboard_crc import install as _install_fast_crc

_install_fast_crc()  # before any event file is written or read
