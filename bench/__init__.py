"""Benchmarks that print measured figures with the machine they ran on (run as ``python -m bench.<name>``)."""
