"""``python -m review [--port N]``: serve the review page on http://127.0.0.1:N over the stage outputs of the
project in the working directory (or ``--project``), until Ctrl-C, to the browser that opens the URL it prints."""

import argparse
import os
import secrets

from werkzeug.serving import make_server

from faceswap.core import cli
from review.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    parser.add_argument("--project", default=".", help="the project's root folder (default: the working directory)")
    args = parser.parse_args()
    if not 1 <= args.port <= 65535:  # 0 would bind a random port, which the Host check then refuses
        raise cli.UserError(f"--port {args.port}: give a port from 1 to 65535")
    if not os.path.isfile(os.path.join(args.project, "dvc.yaml")):
        raise cli.UserError(f"{args.project}: no dvc.yaml; run from the project's root or give --project")
    os.chdir(args.project)
    token = secrets.token_urlsafe(32)  # this launch's: only the browser that opens the URL below is answered
    try:
        server = make_server("127.0.0.1", args.port, create_app(args.port, token, warm=True), threaded=True)
    except OSError as error:
        raise cli.UserError(f"port {args.port}: {error.strerror}; give another with --port") from None
    cli.log.info("review: open http://127.0.0.1:%d/?token=%s in a browser (Ctrl-C stops)", args.port, token)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    cli.run(main)
