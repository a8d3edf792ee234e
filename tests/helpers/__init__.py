"""Shared test helpers (no tests here), imported as ``helpers.X``: pytest's ``pythonpath`` option puts ``tests/`` on
``sys.path``, and ``helpers.runs.SUBPROCESS_ENV`` does the same for CLI subprocesses."""
