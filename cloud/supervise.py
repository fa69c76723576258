"""What runs on the instance around the training: its checkpoints restored from and pushed to the remote, the
spot interruption notice and the time limit watched, the MLflow credentials read from SSM.

    python3 -m cloud.supervise     (bootstrap.sh runs it in the checked-out project, settings in the environment)

Before training, the attempt's pushed ``models/checkpoints/`` (if any) replaces the local one, so the training
stage resumes where the last launch of the attempt stopped. While ``dvc repro model`` runs, a new checkpoint is
pushed at most every ``PUSH_EVERY_MINUTES``; when AWS posts a spot interruption notice, the time limit draws
near or the instance is shutting down, training is stopped, the checkpoints are pushed at once and the exit
status is ``INTERRUPTED``; when training ends, well or not, the last checkpoint is pushed.

The credentials of an authenticated MLflow server come from an SSM SecureString parameter (``USERNAME:PASSWORD``)
read with the instance role, and reach only the training's environment: never user data, tags or a shell.
"""

import os
import signal
import subprocess
import sys
import time

import boto3
import botocore.exceptions
from boto3.exceptions import Boto3Error

from cloud import spot
from cloud.remote_checkpoints import RemoteCheckpoints
from faceswap.core.paths import CHECKPOINTS

INTERRUPTED = 75  # EX_TEMPFAIL: the attempt is not done; launching it again goes on from its checkpoints
STOP_GRACE_SECONDS = 60
PUSH_ERRORS = (OSError, Boto3Error, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


def say(message: str) -> None:
    print(f"supervise: {message}", flush=True)


def mlflow_credentials(parameter: str) -> dict:
    """``MLFLOW_TRACKING_USERNAME`` and ``_PASSWORD`` from the SecureString ``parameter`` (none when unset)."""
    if not parameter:
        return {}
    value = boto3.client("ssm").get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    username, colon, password = value.partition(":")
    if not colon:
        raise SystemExit(f"error: SSM parameter {parameter}: its value must be USERNAME:PASSWORD")
    say(f"MLflow credentials of user {username} read from SSM parameter {parameter}")
    return {"MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password}


class Supervisor:
    """Runs the training command and decides when to push its checkpoints and when to stop it."""

    def __init__(self, checkpoints: RemoteCheckpoints, push_every_s: float, stop_at: float, poll_s: float):
        self.checkpoints, self.push_every_s, self.stop_at, self.poll_s = checkpoints, push_every_s, stop_at, poll_s
        self.pushed, self.next_push, self.terminated = self.checkpoints.signature(), 0.0, False

    def on_sigterm(self, *_) -> None:
        self.terminated = True

    def stop_reason(self) -> str | None:
        if self.terminated:
            return "the instance is shutting down"
        notice = spot.interruption_notice()
        if notice:
            return f"spot interruption notice: {notice.get('action', '?')} at {notice.get('time', '?')}"
        if time.time() >= self.stop_at:
            return "the time limit (--max-hours) is near"
        return None

    def push(self, now: bool = False) -> None:
        """Push the checkpoints if they changed since the last push and one is due (or ``now``)."""
        signature = self.checkpoints.signature()
        if not signature or signature == self.pushed or (not now and time.monotonic() < self.next_push):
            return
        try:
            self.checkpoints.push()
        except PUSH_ERRORS as error:  # a checkpoint renamed under the archive, S3 briefly away: next time
            say(f"pushing the checkpoints failed ({error}); trying again")
            return
        self.pushed, self.next_push = signature, time.monotonic() + self.push_every_s
        say(f"pushed {CHECKPOINTS} to {self.checkpoints.url}")

    def run(self, command: list[str], env: dict) -> int:
        training = subprocess.Popen(command, env=env, start_new_session=True)
        while training.poll() is None:
            reason = self.stop_reason()
            if reason:
                say(f"{reason}; stopping the training and pushing its checkpoints")
                stop(training)
                self.push(now=True)
                return INTERRUPTED
            self.push()
            time.sleep(self.poll_s)
        self.push(now=True)
        return training.returncode


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the training's process group (dvc and the stage), SIGKILL if it lingers."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main() -> None:
    env = os.environ
    s3 = boto3.client("s3", endpoint_url=env.get("REMOTE_ENDPOINT") or None)
    checkpoints = RemoteCheckpoints(s3, env["ATTEMPT_BUCKET"], env["ATTEMPT_PREFIX"], CHECKPOINTS)
    if checkpoints.restore():
        say(f"restored {CHECKPOINTS} from {checkpoints.url}: training goes on from there")
    else:
        say(f"no checkpoints at {checkpoints.url} yet: training starts afresh")
    supervisor = Supervisor(checkpoints, float(env["PUSH_EVERY_MINUTES"]) * 60, float(env["STOP_AT"]),
                            float(env.get("FACESWAP_POLL_SECONDS", "5")))
    signal.signal(signal.SIGTERM, supervisor.on_sigterm)
    training_env = {**env, **mlflow_credentials(env.get("MLFLOW_CREDENTIALS_PARAMETER", ""))}
    sys.exit(supervisor.run(["dvc", "repro", "--allow-missing", env["TRAIN_STAGE"]], training_env))


if __name__ == "__main__":
    main()
