"""The URLs a launch hands the instance: never with credentials in them, and an MLflow server it can reach.

The task's envs and workdir are shown by ``sky jobs queue``, SkyPilot's dashboard and ``launch --dry-run``, so a
token inside a URL is refused, and the safe way named: the environment of the launching machine, from which
``launch`` hands the value to SkyPilot as a secret (``GIT_TOKEN``, ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``).
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
        raise UserError(f"{where}: the URL holds credentials, which would be shown with the task; give it without "
                        "them and set GIT_TOKEN here: SkyPilot clones with it as a secret")
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
        raise UserError("--mlflow-uri: the URI holds credentials, which would be shown with the task; give it "
                        "without them and set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD here: launch "
                        "hands them to SkyPilot as secrets")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--mlflow-uri {uri}: the instance can only log to an MLflow server; give its http:// or "
                        "https:// URL (a sqlite:, file: or local store stays on this machine)")
    if is_loopback(parts.hostname):
        raise UserError(f"--mlflow-uri {uri}: {parts.hostname} is this machine, which the instance cannot reach; "
                        "give the address of a server both reach (README: Experiment tracking)")
    return uri
