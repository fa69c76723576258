"""How every stage starts and fails: one clear error line and a non-zero exit for bad input."""

import argparse
import logging
import sys

from tqdm import tqdm

from faceswap.core.paths import SIDES

log = logging.getLogger("faceswap")


class UserError(Exception):
    """Bad input the user can fix; the message names the file or key and what to do."""


def side_argument(description: str) -> str:
    """Parse the ``--side target|source`` argument of a per-side stage."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--side", choices=SIDES, required=True)
    return parser.parse_args().side


def run(main) -> None:
    """Run a stage's main function; a UserError becomes one line on stderr and exit status 2."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def progress(iterable, desc: str, total: int | None = None):
    """A tqdm bar on stderr that redraws at most every two seconds, so logs of long stages stay short."""
    return tqdm(iterable, desc=desc, total=total, unit="item", mininterval=2.0, file=sys.stderr)
