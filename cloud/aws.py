"""AWS access for the cloud commands: one boto3 session, checked before anything starts.

boto3 finds credentials and endpoints by itself (environment, AWS profile, instance role; ``AWS_ENDPOINT_URL``
for an S3/EC2-compatible endpoint such as ``moto_server``). This module only turns what can go wrong into one
clear ``error:`` line instead of a traceback.
"""

import contextlib

import boto3
import botocore.exceptions

from faceswap.core.cli import UserError


def session(region: str | None = None, profile: str | None = None, need_region: bool = True) -> boto3.Session:
    """A session with credentials (and a region, which EC2 needs and S3 does not), or a UserError saying how."""
    try:
        result = boto3.Session(region_name=region, profile_name=profile)
    except botocore.exceptions.ProfileNotFound as error:
        raise UserError(f"AWS profile: {error}") from None
    if result.get_credentials() is None:
        raise UserError("no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                        "or AWS_PROFILE, or run `aws configure`")
    if need_region and not result.region_name:
        raise UserError("no AWS region; pass --region or set AWS_DEFAULT_REGION")
    return result


@contextlib.contextmanager
def errors(action: str):
    """Turn the failure of an AWS call into a UserError naming ``action`` and AWS's own reason."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError:
        raise UserError(f"{action}: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                        "or AWS_PROFILE") from None
    except botocore.exceptions.ClientError as error:
        info = error.response.get("Error", {})
        raise UserError(f"{action}: {info.get('Code', 'error')}: {info.get('Message', error)}") from None
    except botocore.exceptions.BotoCoreError as error:
        raise UserError(f"{action}: {error}") from None


def check_secure_parameter(ssm, name: str, value: str) -> None:
    """Stop unless SSM parameter ``name`` exists as a SecureString; its value is never read here."""
    with errors(f"looking up SSM parameter {name}"):
        found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    if not found:
        raise UserError(f"SSM parameter {name} not found in {ssm.meta.region_name}; create it with "
                        f"aws ssm put-parameter --type SecureString --name {name} --value {value}")
    if found[0]["Type"] != "SecureString":
        raise UserError(f"SSM parameter {name} is a {found[0]['Type']}; store credentials as a SecureString "
                        "(aws ssm put-parameter --type SecureString --overwrite ...)")
