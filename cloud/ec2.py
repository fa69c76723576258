"""Training attempts as EC2 instances: the ``run_instances`` request, its user data, and finding them again.

An attempt is one instance that trains and then terminates itself (user data from ``bootstrap.sh``,
``InstanceInitiatedShutdownBehavior=terminate``); launching the same attempt again, after a spot reclaim or with
more ``model.steps``, starts another instance that goes on from the checkpoints the first one pushed. Its tags
name the project, the attempt, the git commit and the deadline, which is how ``status``, ``logs`` and ``stop``
find it and how ``status`` tells one that outlived its time limit. Its root volume is an encrypted gp3 volume
deleted with it, and the metadata service answers only IMDSv2 (token) requests.
"""

import math
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cloud import attempts, aws
from cloud.origin import TRAIN_STAGE, DvcRemote
from faceswap.core.cli import UserError

PROJECT = "faceswap-pipeline"
INSTANCE_TYPE = "g4dn.xlarge"  # one NVIDIA T4 (16 GB), the cheapest common GPU instance
# AWS's public SSM parameter for the latest Deep Learning Base AMI (NVIDIA driver, CUDA; Python 3.12)
AMI_PARAMETER = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"
INSTANCE_PROFILE = "faceswap-pipeline"
MAX_HOURS = 4.0
PUSH_EVERY_MINUTES = 15.0
VOLUME_GB = 100  # the Deep Learning Base AMI's own snapshot takes about 75 GB
BOOTSTRAP = Path(__file__).with_name("bootstrap.sh")
USER_DATA_LIMIT = 16 * 1024  # bytes, EC2's own limit
LIVE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]


@dataclass(frozen=True)
class Launch:
    """Everything one attempt's instance is started with."""

    attempt: str
    commit: str
    git_url: str
    remote: DvcRemote
    pull_targets: list[str]
    uncached_outs: list[str]
    mlflow_uri: str
    instance_type: str
    ami: str
    instance_profile: str
    max_hours: float
    spot: bool
    region: str
    deadline: str  # launch time + max_hours, ISO 8601 UTC
    root_device: str  # the AMI's root device name, e.g. /dev/sda1
    volume_gb: int = VOLUME_GB
    push_every_minutes: float = PUSH_EVERY_MINUTES
    mlflow_credentials_parameter: str = ""  # SSM SecureString names, never the secrets
    git_token_parameter: str = ""
    subnet: str | None = None
    security_groups: tuple[str, ...] = ()


def user_data(launch: Launch) -> str:
    """``bootstrap.sh`` with the attempt's settings filled in as shell variables."""
    max_minutes = math.ceil(launch.max_hours * 60)
    settings = {
        "ATTEMPT": launch.attempt,
        "COMMIT": launch.commit,
        "GIT_URL": launch.git_url,
        "GIT_TOKEN_PARAMETER": launch.git_token_parameter,
        "DVC_REMOTE": launch.remote.name,
        "REMOTE_URL": launch.remote.url,
        "REMOTE_ENDPOINT": launch.remote.endpoint_url or "",
        "ATTEMPT_BUCKET": launch.remote.bucket,
        "ATTEMPT_PREFIX": attempts.prefix(launch.remote, launch.attempt),
        "PULL_TARGETS": " ".join(launch.pull_targets),
        "TRAIN_STAGE": TRAIN_STAGE,
        "UNCACHED_OUTS": " ".join(launch.uncached_outs),
        "MAX_MINUTES": str(max_minutes),
        "STOP_MARGIN_MINUTES": str(min(5, math.ceil(max_minutes / 10))),
        "PUSH_EVERY_MINUTES": f"{launch.push_every_minutes:g}",
        "AWS_DEFAULT_REGION": launch.region,
        "MLFLOW_TRACKING_URI": launch.mlflow_uri,
        "MLFLOW_CREDENTIALS_PARAMETER": launch.mlflow_credentials_parameter,
    }
    block = "\n".join(f"export {name}={shlex.quote(value)}" for name, value in settings.items())
    script = BOOTSTRAP.read_text().replace("# @SETTINGS@", block, 1)
    if len(script.encode()) > USER_DATA_LIMIT:
        raise UserError(f"user data is {len(script.encode())} bytes, over EC2's limit of {USER_DATA_LIMIT}")
    return script


def tags(launch: Launch) -> list[dict]:
    return [{"Key": key, "Value": value} for key, value in (
        ("Name", f"faceswap-{launch.attempt}"), ("Project", PROJECT), ("Attempt", launch.attempt),
        ("GitCommit", launch.commit), ("Deadline", launch.deadline))]


def run_instances_request(launch: Launch) -> dict:
    """The exact keyword arguments of ``ec2.run_instances`` (boto3 base64-encodes ``UserData`` itself)."""
    request = {
        "ImageId": launch.ami,
        "InstanceType": launch.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "IamInstanceProfile": {"Name": launch.instance_profile},
        "InstanceInitiatedShutdownBehavior": "terminate",
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        "BlockDeviceMappings": [{"DeviceName": launch.root_device, "Ebs": {
            "VolumeSize": launch.volume_gb, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True}}],
        "TagSpecifications": [{"ResourceType": kind, "Tags": tags(launch)} for kind in ("instance", "volume")],
        "UserData": user_data(launch),
    }
    if launch.spot:
        request["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": {
            "SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}}
    if launch.subnet:
        request["SubnetId"] = launch.subnet
    if launch.security_groups:
        request["SecurityGroupIds"] = list(launch.security_groups)
    return request


def check_instance_type(ec2, name: str) -> None:
    """Stop on an instance type this region does not offer, before anything starts."""
    try:
        ec2.describe_instance_types(InstanceTypes=[name])
    except ec2.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "InvalidInstanceType":
            raise
        raise UserError(f"unknown instance type {name!r} in {ec2.meta.region_name}; "
                        f"pick a GPU type such as {INSTANCE_TYPE}, g5.xlarge or p3.2xlarge") from None


def resolve_ami(ssm, parameter: str) -> str:
    """The AMI id an SSM parameter (e.g. AWS's public Deep Learning AMI one) holds."""
    try:
        return ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise UserError(f"SSM parameter {parameter} not found in {ssm.meta.region_name}; "
                        "pass --ami ami-... or another --ami-parameter") from None


def root_device(ec2, ami: str) -> str:
    """The AMI's root device name, which the encrypted root volume's mapping must name."""
    try:
        images = ec2.describe_images(ImageIds=[ami])["Images"]
    except ec2.exceptions.ClientError as error:
        if not error.response["Error"]["Code"].startswith("InvalidAMIID"):
            raise
        images = []
    if not images:
        raise UserError(f"AMI {ami} not found in {ec2.meta.region_name}; pass another --ami or --ami-parameter")
    return images[0]["RootDeviceName"]


def launch_instance(ec2, request: dict) -> str:
    with aws.errors("run_instances"):
        return ec2.run_instances(**request)["Instances"][0]["InstanceId"]


def instances(ec2, attempt: str | None = None, states: list[str] | None = None) -> list[dict]:
    """The project's instances (of one attempt), oldest first."""
    filters = [{"Name": "tag:Project", "Values": [PROJECT]}]
    if attempt:
        filters.append({"Name": "tag:Attempt", "Values": [attempt]})
    if states:
        filters.append({"Name": "instance-state-name", "Values": states})
    with aws.errors("describe_instances"):
        pages = ec2.get_paginator("describe_instances").paginate(Filters=filters)
        found = [i for page in pages for r in page["Reservations"] for i in r["Instances"]]
    return sorted(found, key=lambda i: i["LaunchTime"])


def tag(instance: dict, key: str) -> str:
    return next((t["Value"] for t in instance.get("Tags", []) if t["Key"] == key), "")


def past_deadline(instance: dict, now: datetime) -> bool:
    """A live instance still there after its ``Deadline`` tag: an AMI that ignored the power-off, a hung one."""
    deadline = tag(instance, "Deadline")
    if not deadline or instance["State"]["Name"] not in LIVE_STATES:
        return False
    return now > datetime.strptime(deadline, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def console_output(ec2, instance_id: str) -> str:
    with aws.errors(f"get_console_output {instance_id}"):
        return ec2.get_console_output(InstanceId=instance_id).get("Output", "")


def terminate(ec2, instance_ids: list[str]) -> None:
    with aws.errors("terminate_instances"):
        ec2.terminate_instances(InstanceIds=instance_ids)
