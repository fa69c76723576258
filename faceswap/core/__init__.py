"""What every stage shares: the command line and its errors, params.yaml, atomic outputs, worker processes, paths."""
