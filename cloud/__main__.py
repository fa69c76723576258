"""Train on an EC2 GPU instance, and bring the model back to any machine.

    python -m cloud launch [--spot] [--max-hours H] [--dry-run] ...   start an attempt
    python -m cloud status                  the project's instances and their state
    python -m cloud logs ATTEMPT            console output while it runs, its log once it is done
    python -m cloud fetch ATTEMPT           its dvc.lock entry and model, so `dvc repro` goes on here
    python -m cloud stop ATTEMPT            terminate it
    python -m cloud setup [--dry-run]       create the bucket, role and instance profile (idempotent)
    python -m cloud teardown [--dry-run] [--delete-bucket]   remove them

Not a DVC stage: the instance runs ``dvc repro model`` itself and pushes the result to the DVC remote.
"""

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud import attempts, aws, ec2, origin, remote_checkpoints, uris
from cloud.account import SECRETS_PATH, Account
from faceswap.core import cli, paths
from faceswap.core.atomic import atomic_file
from faceswap.train.checkpoints import Checkpoints


def mlflow_settings(args, session) -> tuple[str, str]:
    """The checked MLflow URI, and the name of the SSM parameter with its credentials (checked to exist)."""
    mlflow_uri = args.mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not mlflow_uri:
        raise cli.UserError("no MLflow tracking URI; pass --mlflow-uri http://HOST:5000 or set MLFLOW_TRACKING_URI "
                            "to a server both the instance and this machine reach (the output stage, run here, "
                            "logs onto the training run)")
    uris.check_mlflow_uri(mlflow_uri)
    if args.mlflow_credentials_parameter:
        aws.check_secure_parameter(session.client("ssm"), args.mlflow_credentials_parameter, "USERNAME:PASSWORD")
        if mlflow_uri.startswith("http://"):
            print(f"warning: {mlflow_uri} is plain http: the password crosses the network in clear; "
                  "put the server behind TLS (README: Experiment tracking)", file=sys.stderr)
    return mlflow_uri, args.mlflow_credentials_parameter or ""


def check_attempt_free(client, remote, attempt: str) -> None:
    """One instance per attempt at a time: two would push over each other's checkpoints."""
    live = [i for i in ec2.instances(client, attempt, ec2.LIVE_STATES) if i["State"]["Name"] != "shutting-down"]
    if live:
        raise cli.UserError(f"attempt {attempt} is still running on {live[0]['InstanceId']}; wait for it to end "
                            f"or `python -m cloud stop {attempt}` first")
    if attempts.exists(remote, attempt, remote_checkpoints.OBJECT):
        print(f"attempt {attempt}: goes on from its pushed checkpoints "
              f"(s3://{remote.bucket}/{attempts.prefix(remote, attempt)}/{remote_checkpoints.OBJECT})")


def launch(args) -> None:
    repo = origin.dvc_repo()
    remote = origin.dvc_remote(repo)
    commit = origin.pushed_commit()
    git_url = uris.check_git_url(args.git_url or origin.git_url(args.git_remote),
                                 "--git-url" if args.git_url else f"git remote '{args.git_remote}'")
    if args.git_token_parameter:
        aws.check_secure_parameter(aws.session(args.region).client("ssm"), args.git_token_parameter, "TOKEN")
    if not 0 < args.max_hours <= 72:
        raise cli.UserError(f"--max-hours {args.max_hours}: give a number of hours above 0 and at most 72")
    attempt = attempts.check_id(args.attempt) if args.attempt else attempts.new_id(commit)
    session = aws.session(args.region)
    mlflow_uri, credentials = mlflow_settings(args, session)
    client = session.client("ec2")
    with aws.errors("checking the launch settings"):
        ec2.check_instance_type(client, args.instance_type)
        ami = args.ami or ec2.resolve_ami(session.client("ssm"), args.ami_parameter)
        root_device = ec2.root_device(client, ami)
        check_attempt_free(client, remote, attempt)
    deadline = datetime.now(UTC) + timedelta(hours=args.max_hours)
    request = ec2.run_instances_request(ec2.Launch(
        attempt=attempt, commit=commit, git_url=git_url, remote=remote, pull_targets=origin.pull_targets(repo),
        uncached_outs=origin.uncached_outs(repo), mlflow_uri=mlflow_uri, instance_type=args.instance_type, ami=ami,
        instance_profile=args.instance_profile, max_hours=args.max_hours, spot=args.spot,
        region=client.meta.region_name, deadline=f"{deadline:%Y-%m-%dT%H:%M:%SZ}", root_device=root_device,
        volume_gb=args.volume_gb, push_every_minutes=args.push_every, mlflow_credentials_parameter=credentials,
        git_token_parameter=args.git_token_parameter or "",
        subnet=args.subnet, security_groups=tuple(args.security_group)))
    if args.dry_run:
        print(json.dumps(request, indent=2))
        print(f"# user data ({len(request['UserData'].encode())} bytes):")
        print(request["UserData"], end="")
        return
    instance_id = ec2.launch_instance(client, request)
    print(f"attempt {attempt}: {instance_id} ({args.instance_type}, {'spot' if args.spot else 'on-demand'}, "
          f"terminates after at most {args.max_hours:g} h)")
    print(f"follow it: python -m cloud logs {attempt}; "
          f"when done: python -m cloud fetch {attempt}")


def status(args) -> None:
    client = aws.session(args.region).client("ec2")
    found = ec2.instances(client)
    if not found:
        print(f"no {ec2.PROJECT} instances in {client.meta.region_name}")
        return
    now = datetime.now(UTC)
    print(f"{'ATTEMPT':<28} {'INSTANCE':<20} {'STATE':<14} {'TYPE':<14} {'MARKET':<10} {'LAUNCHED':<17} "
          f"{'DEADLINE':<17} COMMIT")
    for i in found:
        print(f"{ec2.tag(i, 'Attempt'):<28} {i['InstanceId']:<20} {i['State']['Name']:<14} {i['InstanceType']:<14} "
              f"{i.get('InstanceLifecycle', 'on-demand'):<10} {i['LaunchTime']:%Y-%m-%d %H:%M}  "
              f"{ec2.tag(i, 'Deadline')[:16].replace('T', ' '):<17} {ec2.tag(i, 'GitCommit')[:12]}")
    overdue = [i for i in found if ec2.past_deadline(i, now)]
    for i in overdue:
        print(f"warning: {i['InstanceId']} (attempt {ec2.tag(i, 'Attempt')}) is {i['State']['Name']} past its "
              f"deadline {ec2.tag(i, 'Deadline')}: its time limit did not hold; "
              f"python -m cloud stop {ec2.tag(i, 'Attempt')}", file=sys.stderr)


def logs(args) -> None:
    remote = origin.dvc_remote(origin.dvc_repo())
    client = aws.session(args.region).client("ec2")
    live = ec2.instances(client, args.attempt, ec2.LIVE_STATES)
    for instance in live:
        print(f"== console output of {instance['InstanceId']} ({instance['State']['Name']}) ==")
        print(ec2.console_output(client, instance["InstanceId"]))
    log = attempts.read(remote, args.attempt, attempts.LOG)
    if log is not None:
        print(f"== {attempts.LOG} of attempt {args.attempt} ==")
        print(log.decode(), end="")
    elif not live:
        raise cli.UserError(f"attempt {args.attempt}: no instance and no {attempts.LOG} under "
                            f"s3://{remote.bucket}/{attempts.prefix(remote, args.attempt)}/; see `status`")


def fetch(args) -> None:
    repo = origin.dvc_repo()
    remote = origin.dvc_remote(repo)
    lock = attempts.read(remote, args.attempt, attempts.LOCK)
    if lock is None:
        raise cli.UserError(f"attempt {args.attempt}: no {attempts.LOCK} under "
                            f"s3://{remote.bucket}/{attempts.prefix(remote, args.attempt)}/ yet; it is still "
                            f"training or it failed: python -m cloud logs {args.attempt}")
    root = Path(repo.root_dir)
    mismatched = attempts.mismatches(lock.decode(), root)
    if mismatched:
        raise cli.UserError(f"attempt {args.attempt} trained on other faces or params than this working tree: "
                            f"{'; '.join(mismatched)}; check out the commit it ran (see `status`) and "
                            "`dvc pull` its faces, or launch an attempt with these")
    attempts.merge_lock(root / "dvc.lock", lock.decode())
    for path in origin.uncached_outs(repo):
        data = attempts.read(remote, args.attempt, f"{attempts.OUTS}/{path}")
        if data is None:
            raise cli.UserError(f"attempt {args.attempt}: {path} was not uploaded; see its log: "
                                f"python -m cloud logs {args.attempt}")
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


def stop(args) -> None:
    client = aws.session(args.region).client("ec2")
    live = ec2.instances(client, args.attempt, ec2.LIVE_STATES)
    if not live:
        raise cli.UserError(f"attempt {args.attempt}: no instance left to stop; see `status`")
    ec2.terminate(client, [i["InstanceId"] for i in live])
    for instance in live:
        print(f"attempt {args.attempt}: terminating {instance['InstanceId']}")


def account(args) -> Account:
    with aws.errors("reading the account"):
        return Account(aws.session(args.region), origin.dvc_remote(origin.dvc_repo()), args.instance_profile,
                       args.dry_run)


def setup(args) -> None:
    resources = account(args)
    resources.setup_bucket()
    resources.setup_role()
    print(f"{'dry run: nothing changed' if args.dry_run else 'ready'}; launch with "
          f"--instance-profile {args.instance_profile}, and keep secrets in SSM under {SECRETS_PATH}")


def teardown(args) -> None:
    resources = account(args)
    resources.teardown_role()
    if args.delete_bucket:
        resources.teardown_bucket()
    else:
        print(f"kept bucket {resources.remote.bucket} and its data (--delete-bucket removes it)")


def account_commands(commands, common) -> None:
    for name, run, text in (("setup", setup, "create the bucket, IAM role and instance profile, or bring them in line"),
                            ("teardown", teardown, "remove the IAM role and instance profile (and the bucket)")):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument("--instance-profile", default=ec2.INSTANCE_PROFILE,
                             help="name of the IAM role and instance profile (default: %(default)s)")
        command.add_argument("--dry-run", action="store_true", help="say what it would do and change nothing")
        if name == "teardown":
            command.add_argument("--delete-bucket", action="store_true",
                                 help="also delete the bucket with every object version in it: all the data")
        command.set_defaults(run=run)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--region", help="AWS region (default: AWS_DEFAULT_REGION or the AWS profile's)")
    commands = parser.add_subparsers(dest="command", required=True)

    start = commands.add_parser("launch", parents=[common], help="start a training attempt on EC2")
    start.add_argument("--instance-type", default=ec2.INSTANCE_TYPE, help="default: %(default)s")
    ami = start.add_mutually_exclusive_group()
    ami.add_argument("--ami", help="AMI id (default: the one --ami-parameter names)")
    ami.add_argument("--ami-parameter", default=ec2.AMI_PARAMETER,
                     help="SSM parameter holding the AMI id (default: AWS's Deep Learning Base AMI, %(default)s)")
    start.add_argument("--subnet", help="subnet id (default: the default VPC's)")
    start.add_argument("--security-group", action="append", default=[], metavar="ID",
                       help="security group id, repeatable (default: the VPC's default group); no inbound needed")
    start.add_argument("--instance-profile", default=ec2.INSTANCE_PROFILE,
                       help="IAM instance profile giving S3 access to the DVC remote (default: %(default)s)")
    start.add_argument("--spot", action="store_true", help="a spot instance (default: on-demand)")
    start.add_argument("--max-hours", type=float, default=ec2.MAX_HOURS,
                       help="the instance powers off and terminates after this long (default: %(default)s)")
    start.add_argument("--volume-gb", type=int, default=ec2.VOLUME_GB,
                       help="size of the encrypted gp3 root volume in GB (default: %(default)s)")
    start.add_argument("--push-every", type=float, default=ec2.PUSH_EVERY_MINUTES, metavar="MINUTES",
                       help="push new checkpoints to the remote at most this often while training "
                            "(default: %(default)s; at once on a spot interruption notice or a failure)")
    start.add_argument("--mlflow-uri", help="MLflow tracking server for the run (default: MLFLOW_TRACKING_URI)")
    start.add_argument("--mlflow-credentials-parameter", metavar="NAME",
                       help="SSM SecureString parameter holding USERNAME:PASSWORD of an authenticated MLflow "
                            "server, read by the instance with its role")
    start.add_argument("--attempt", help="attempt id (default: launch time and short commit)")
    start.add_argument("--git-remote", default="origin", help="git remote the instance clones (default: origin)")
    start.add_argument("--git-url", help="URL the instance clones instead of the git remote's")
    start.add_argument("--git-token-parameter", metavar="NAME",
                       help="SSM SecureString parameter holding a token that lets the instance clone a private "
                            "repository over https, read by the instance with its role")
    start.add_argument("--dry-run", action="store_true", help="print the run_instances request and user data only")
    start.set_defaults(run=launch)

    commands.add_parser("status", parents=[common], help="list the project's instances").set_defaults(run=status)
    for name, run, text in ((logs.__name__, logs, "console output and uploaded log of an attempt"),
                            (fetch.__name__, fetch, "bring an attempt's model and dvc.lock entry here"),
                            (stop.__name__, stop, "terminate an attempt's instance")):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument("attempt", type=attempts.check_id)
        command.set_defaults(run=run)
    account_commands(commands, common)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    args.run(args)


if __name__ == "__main__":
    cli.run(main)
