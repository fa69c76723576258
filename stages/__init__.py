"""The face-swap pipeline: one module per DVC stage, run as ``python -m stages.<name>``."""
