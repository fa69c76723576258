"""The git command line, for what a run records (its commit) and what a cloud launch checks (the commit pushed)."""

import subprocess

from faceswap.core.cli import UserError


def git(*args: str) -> str:
    """The output of ``git ARGS``; a failure (not a repository, no git) is a UserError with git's own reason."""
    try:
        result = subprocess.run(["git", *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise UserError("git: not installed; install git to record and check commits") from None
    if result.returncode != 0:
        raise UserError(f"git {' '.join(args)}: {result.stderr.strip() or 'failed'}")
    return result.stdout.strip()
