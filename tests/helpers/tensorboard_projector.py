"""Load a run folder's projector config the way TensorBoard's projector plugin does."""

from tensorboard.plugins import base_plugin
from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin


class NoRuns:
    """The plugin asks its data provider for runs; the run folder itself is read as run '.'."""

    def list_runs(self, ctx, experiment_id):
        return []


def load_with_tensorboard(log_dir):
    """The projector config TensorBoard reads from ``log_dir``, and the plugin that read it."""
    plugin = ProjectorPlugin(base_plugin.TBContext(logdir=str(log_dir), data_provider=NoRuns()))
    plugin._update_configs()
    return plugin._configs["."], plugin
