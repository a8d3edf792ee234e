"""The sink: atomic files, the moment writer (folder, manifest, completion marker, TensorBoard), projector, report.

Nothing here imports a probe: the report reads what the writer's manifests say.
"""
