"""The URLs a launch hands the instance: never with credentials in them, and an MLflow server it can reach.

Whatever goes into user data can be read back by anyone allowed ``ec2:DescribeInstanceAttribute`` (read-only
policies grant it), and ``launch --dry-run`` prints it; so a token inside a URL is refused, and the safe way
named: an SSM SecureString parameter that the instance reads with its role.
"""

import ipaddress
from urllib.parse import urlsplit

from faceswap.core.cli import UserError


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries a user or password (``https://TOKEN@host/...``, ``http://user:pw@host``)."""
    parts = urlsplit(url)
    return bool(parts.scheme and parts.netloc and "@" in parts.netloc)


def check_git_url(url: str, where: str) -> str:
    if has_credentials(url):
        raise UserError(f"{where}: the URL holds credentials, which would be copied into the instance's user data; "
                        "give it without them and put the token in an SSM SecureString parameter: "
                        "--git-token-parameter NAME")
    return url


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: what it resolves to here says nothing of what the instance reaches
    return address.is_loopback or address.is_unspecified or address.is_link_local


def check_mlflow_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if has_credentials(uri):
        raise UserError("--mlflow-uri: the URI holds credentials, which would be copied into the instance's user "
                        "data; give it without them and put USERNAME:PASSWORD in an SSM SecureString parameter: "
                        "--mlflow-credentials-parameter NAME")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--mlflow-uri {uri}: the instance can only log to an MLflow server; give its http:// or "
                        "https:// URL (a sqlite:, file: or local store stays on this machine)")
    if is_loopback(parts.hostname):
        raise UserError(f"--mlflow-uri {uri}: {parts.hostname} is this machine, which the instance cannot reach; "
                        "give the address of a server both reach (README: Experiment tracking)")
    return uri
