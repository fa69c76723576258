"""The spot interruption notice, read from the instance metadata service the way AWS requires (IMDSv2).

AWS posts ``spot/instance-action`` about two minutes before it reclaims a spot instance; until then the path
answers 404. The launcher keeps IMDSv2 required (``HttpTokens=required``), so every read first asks for a
session token. ``FACESWAP_METADATA_URL`` points this at another endpoint (the tests run one on 127.0.0.1).
"""

import json
import os
import urllib.error
import urllib.request

METADATA_URL = "http://169.254.169.254"
TOKEN_TTL_SECONDS = 300
TIMEOUT_SECONDS = 2


def metadata_url() -> str:
    return os.environ.get("FACESWAP_METADATA_URL", METADATA_URL).rstrip("/")


def interruption_notice() -> dict | None:
    """The notice (``{"action": "terminate", "time": ...}``) once AWS has posted one, else None; None too when
    the metadata service cannot be reached (not on EC2, or an on-demand instance with it switched off)."""
    base = metadata_url()
    try:
        token_request = urllib.request.Request(f"{base}/latest/api/token", method="PUT",
                                               headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)})
        with urllib.request.urlopen(token_request, timeout=TIMEOUT_SECONDS) as answer:
            token = answer.read().decode()
        notice_request = urllib.request.Request(f"{base}/latest/meta-data/spot/instance-action",
                                                headers={"X-aws-ec2-metadata-token": token})
        with urllib.request.urlopen(notice_request, timeout=TIMEOUT_SECONDS) as answer:
            return json.loads(answer.read().decode())
    except (OSError, ValueError):  # 404 (no notice), no metadata service, an answer that is not JSON
        return None
