"""Train on an EC2 GPU with SkyPilot managed jobs, and bring the model back to any machine.

    python -m cloud launch [--gpus T4:1] [--on-demand] [--dry-run] ...   start an attempt (a managed job)
    python -m cloud sweep -S model.learning_rate=1e-4,5e-4 [...]         one attempt per combination
    python -m cloud fetch ATTEMPT           its dvc.lock entry and model, so `dvc repro` goes on here
    python -m cloud setup [--dry-run]       the bucket and the instances' IAM roles (idempotent)
    python -m cloud teardown [--dry-run] [--delete-data]   remove the roles (and the remote's objects)

While it runs: ``sky jobs queue``, ``sky jobs logs JOB``, ``sky jobs cancel JOB`` and the MLflow UI. Not a DVC
stage: the instance runs ``dvc repro model`` itself and pushes the result to the DVC remote. ``launch`` and
``sweep`` need SkyPilot, installed in a venv of its own (README: Training in the cloud); the rest do not.
"""

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

import yaml

from cloud import attempts, aws, origin, sweep, task, uris
from cloud.account import CONTROLLER_PROFILE, INSTANCE_PROFILE, Account
from faceswap.core import cli, paths
from faceswap.core.atomic import atomic_file
from faceswap.train.checkpoints import Checkpoints


def mlflow_settings(args) -> tuple[str, dict]:
    """The checked MLflow URI, and the login (from this machine's environment) that SkyPilot keeps as secrets."""
    mlflow_uri = args.mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not mlflow_uri:
        raise cli.UserError("no MLflow tracking URI; pass --mlflow-uri http://HOST:5000 or set MLFLOW_TRACKING_URI "
                            "to a server both the instance and this machine reach (the output stage, run here, "
                            "logs onto the training run)")
    uris.check_mlflow_uri(mlflow_uri)
    secrets = {name: os.environ[name] for name in task.SECRETS if os.environ.get(name)}
    if secrets and mlflow_uri.startswith("http://"):
        print(f"warning: {mlflow_uri} is plain http: the password crosses the network in clear; "
              "put the server behind TLS (README: Experiment tracking)", file=sys.stderr)
    return mlflow_uri, secrets


def attempts_to_launch(args, mlflow_uri: str) -> list[task.Attempt]:
    """One attempt, or one per combination of the sweep's ``-S`` values, checked before anything starts."""
    repo = origin.dvc_repo()
    remote = origin.dvc_remote(repo)
    commit = origin.pushed_commit()
    git_url = uris.check_git_url(args.git_url or origin.git_url(args.git_remote),
                                 "--git-url" if args.git_url else f"git remote '{args.git_remote}'")
    base = attempts.check_id(args.attempt) if args.attempt else attempts.new_id(commit)
    changes = sweep.grid(sweep.axes(args.set, yaml.safe_load(Path("params.yaml").read_text())))
    names = [base] if len(changes) == 1 else [f"{base}-{i}" for i in range(1, len(changes) + 1)]
    gpus = args.gpus or ("" if args.instance_type else task.GPUS)  # an instance type says its GPUs itself
    return [task.Attempt(attempt=name, commit=commit, git_url=git_url, remote=remote,
                         pull_targets=origin.pull_targets(repo), uncached_outs=origin.uncached_outs(repo),
                         mlflow_uri=mlflow_uri, gpus=gpus, instance_type=args.instance_type or "",
                         spot=not args.on_demand, disk_gb=args.disk_gb, regions=tuple(args.region), params=change)
            for name, change in zip(names, changes, strict=True)]


def launch(args) -> None:
    mlflow_uri, secrets = mlflow_settings(args)
    chosen = attempts_to_launch(args, mlflow_uri)
    try:
        import sky
    except ImportError:
        raise cli.UserError("SkyPilot is not installed in this Python; run launch from its venv: "
                            ".venv-cloud/bin/python -m cloud launch (README: Training in the cloud)") from None
    if args.dry_run:
        for attempt in chosen:
            print(f"# attempt {attempt.attempt}: the task SkyPilot would run")
            print(task.dump(attempt), end="")
        print("# plan: where SkyPilot would start the first one now, at what price", flush=True)
        plan(task.sky_task(chosen[0], secrets))
        return
    for attempt in chosen:
        if attempts.has_any(attempt.remote, attempt.attempt, task.CHECKPOINTS):
            print(f"attempt {attempt.attempt}: goes on from its checkpoints in {attempt.checkpoints_url}")
        launched = task.sky_task(attempt, secrets).update_envs_and_secrets_from_workdir()
        job_ids, _ = sky.stream_and_get(sky.jobs.launch(launched, name=attempt.attempt))
        print(f"attempt {attempt.attempt}: managed job {job_ids[0] if job_ids else '?'}"
              f"{' with ' + sweep.label(attempt.params) if attempt.params else ''}")
    print("follow: sky jobs queue; sky jobs logs JOB; the MLflow UI. When done: python -m cloud fetch ATTEMPT")


def plan(sky_task) -> None:
    """SkyPilot's optimizer on the task, as ``sky launch --dryrun`` shows it: the instance, zone, market, price.
    It runs in this process (no API server), so its spinner is turned off and its database's log kept quiet."""
    import sky
    from sky import optimizer
    from sky.utils import annotations

    annotations.is_on_api_server = False
    logging.getLogger("alembic").setLevel(logging.WARNING)
    dag = sky.Dag()
    dag.add(sky_task)
    optimizer.Optimizer.optimize(dag, quiet=False)


def fetch(args) -> None:
    repo = origin.dvc_repo()
    remote = origin.dvc_remote(repo)
    lock = attempts.read(remote, args.attempt, attempts.LOCK)
    if lock is None:
        raise cli.UserError(f"attempt {args.attempt}: no {attempts.LOCK} under "
                            f"s3://{remote.bucket}/{attempts.prefix(remote, args.attempt)}/ yet; it is still "
                            f"training or it failed: sky jobs queue; sky jobs logs JOB")
    root = Path(repo.root_dir)
    mismatched = attempts.mismatches(lock.decode(), root)
    if mismatched:
        raise cli.UserError(f"attempt {args.attempt} trained on other faces or params than this working tree: "
                            f"{'; '.join(mismatched)}; check out the commit it ran and "
                            "`dvc pull` its faces, or set its params here")
    attempts.merge_lock(root / "dvc.lock", lock.decode())
    for path in origin.uncached_outs(repo):
        data = attempts.read(remote, args.attempt, f"{attempts.OUTS}/{path}")
        if data is None:
            raise cli.UserError(f"attempt {args.attempt}: {path} was not uploaded; see its log: "
                                "sky jobs logs JOB")
        with atomic_file(root / path) as tmp:
            tmp.write_bytes(data)
    checkpoints = Checkpoints(root / paths.CHECKPOINTS)
    before = checkpoints.states()
    pull = subprocess.run([sys.executable, "-m", "dvc", "pull", origin.TRAIN_STAGE], cwd=root)
    if pull.returncode != 0:
        raise cli.UserError(f"dvc pull {origin.TRAIN_STAGE} failed (above); dvc.lock already holds the attempt's "
                            "entry, so run it again once the remote is reachable")
    for folder in checkpoints.mark_fetched(before, args.attempt):  # hours of a rented GPU: the model stage keeps it
        print(f"attempt {args.attempt}: checkpoints in {folder.relative_to(root)}, kept however old")
    origin.ignore_cached_outs(repo)
    print(f"attempt {args.attempt}: dvc.lock, metrics and model are here; `dvc repro` goes on from here")


def account(args) -> Account:
    with aws.errors("reading the account"):
        return Account(aws.session(args.region), origin.dvc_remote(origin.dvc_repo()), args.dry_run)


def setup(args) -> None:
    resources = account(args)
    resources.setup_bucket()
    resources.setup_roles()
    print(f"{'dry run: nothing changed' if args.dry_run else 'ready'}; SkyPilot gives its instances the profiles "
          f"{INSTANCE_PROFILE} and {CONTROLLER_PROFILE} (.sky.yaml); next: sky check aws, then python -m cloud launch")


def teardown(args) -> None:
    resources = account(args)
    resources.teardown_roles()
    if args.delete_data:
        resources.teardown_data()
    else:
        print(f"kept the data under {resources.remote.url} (--delete-data removes it)")


def account_commands(commands) -> None:
    for name, run, text in (("setup", setup, "create the bucket and the instances' IAM roles, or bring them in line"),
                            ("teardown", teardown, "remove the IAM roles (and the remote's data)")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--region", help="AWS region (default: AWS_DEFAULT_REGION or the AWS profile's)")
        command.add_argument("--dry-run", action="store_true", help="say what it would do and change nothing")
        if name == "teardown":
            command.add_argument("--delete-data", action="store_true",
                                 help="also delete every object version under the DVC remote's prefix")
        command.set_defaults(run=run)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    for name, text in (("launch", "start a training attempt as a SkyPilot managed job"),
                       ("sweep", "start one attempt per combination of -S values")):
        start = commands.add_parser(name, help=text)
        start.add_argument("--region", action="append", default=[],
                           help="an AWS region SkyPilot may use, repeatable (default: any with capacity)")
        start.add_argument("-S", "--set", action="append", default=[], required=name == "sweep",
                           metavar="SECTION.KEY=VALUE[,VALUE...]", help="a params.yaml change (repeatable)")
        start.add_argument("--gpus", help=f"SkyPilot accelerators (default: {task.GPUS}, a g4dn.xlarge)")
        start.add_argument("--instance-type", help="an EC2 instance type instead of --gpus")
        start.add_argument("--on-demand", action="store_true", help="an on-demand instance (default: spot)")
        start.add_argument("--disk-gb", type=int, default=100, help="disk size (default: %(default)s)")
        start.add_argument("--mlflow-uri", help="MLflow tracking server for the run (default: MLFLOW_TRACKING_URI)")
        start.add_argument("--attempt", help="attempt id (default: launch time and short commit; a sweep adds -N)")
        start.add_argument("--git-remote", default="origin", help="git remote the instance clones (default: origin)")
        start.add_argument("--git-url", help="URL the instance clones instead of the git remote's")
        start.add_argument("--dry-run", action="store_true",
                           help="print the task and SkyPilot's plan for it; launch nothing")
        start.set_defaults(run=launch)

    command = commands.add_parser("fetch", help="bring an attempt's model and dvc.lock entry here")
    command.add_argument("attempt", type=attempts.check_id)
    command.set_defaults(run=fetch)
    account_commands(commands)
    args = parser.parse_args()
    if args.command == "launch" and any("," in change for change in args.set):
        parser.error("launch -S takes one value per key; use sweep for several")
    return args


def main() -> None:
    args = parse_args()
    args.run(args)


if __name__ == "__main__":
    cli.run(main)
