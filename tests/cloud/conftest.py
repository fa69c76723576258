"""Fixtures of the cloud tests: moto_server as AWS, a project pushed to a git remote, a fake instance metadata
service, and a forward proxy that lets the "instance" reach an MLflow server by a name that is not loopback."""

import http.client
import http.server
import json
import threading
from urllib.parse import urlsplit

import boto3
import pytest

from tests.cloud.support import (
    ACCESS_KEY,
    AMI_PARAMETER,
    BUCKET,
    MLFLOW_PASSWORD,
    MLFLOW_USER,
    PROFILE,
    SECRET_KEY,
    push_to_new_origin,
    with_remote,
)
from tests.helpers import git_dvc_repo, running_mlflow_server


@pytest.fixture
def aws(s3_endpoint, monkeypatch):
    """moto_server as the AWS endpoint, with the bucket, the instance profile and an AMI parameter in it."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    session = boto3.Session()
    s3, iam, ssm, client = (session.client(name) for name in ("s3", "iam", "ssm", "ec2"))
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
        iam.create_instance_profile(InstanceProfileName=PROFILE)
        ami = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ssm.put_parameter(Name=AMI_PARAMETER, Value=ami, Type="String")
    return client


@pytest.fixture
def laptop(tmp_path, aws, s3_endpoint, monkeypatch):
    """A committed and pushed project (no data), as the working directory."""
    root = git_dvc_repo(tmp_path / "laptop")
    with_remote(root, s3_endpoint)
    push_to_new_origin(root)
    monkeypatch.chdir(root)
    return root


class MetadataService(http.server.ThreadingHTTPServer):
    """The EC2 instance metadata service as far as the spot notice goes, IMDSv2 only: a GET without the token
    that a PUT handed out gets 401. ``notice`` is a callable giving the instance-action or None (404)."""

    TOKEN = "imds-token-1"

    def __init__(self):
        super().__init__(("127.0.0.1", 0), MetadataHandler)
        self.notice = lambda: None
        self.requests = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class MetadataHandler(http.server.BaseHTTPRequestHandler):
    def answer(self, status: int, body: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_PUT(self):
        self.server.requests.append(("PUT", self.path))
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self.answer(200, MetadataService.TOKEN)
        else:
            self.answer(400)

    def do_GET(self):
        self.server.requests.append(("GET", self.path))
        if self.headers.get("X-aws-ec2-metadata-token") != MetadataService.TOKEN:
            self.answer(401)
        elif self.path == "/latest/meta-data/spot/instance-action" and (notice := self.server.notice()):
            self.answer(200, json.dumps(notice))
        else:
            self.answer(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def metadata():
    service = MetadataService()
    threading.Thread(target=service.serve_forever, daemon=True).start()
    yield service
    service.shutdown()
    service.server_close()


class ForwardProxy(http.server.ThreadingHTTPServer):
    """An HTTP forward proxy on loopback that sends requests for ``host`` to ``upstream`` (host, port): how the
    "instance" reaches the MLflow server by a name, as a real instance would reach a shared server."""

    def __init__(self, host: str, upstream: tuple[str, int]):
        super().__init__(("127.0.0.1", 0), ForwardHandler)
        self.host, self.upstream = host, upstream

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ForwardHandler(http.server.BaseHTTPRequestHandler):
    HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "transfer-encoding", "content-length", "host"}

    def forward(self):
        target = urlsplit(self.path)
        if target.hostname != self.server.host:
            self.send_error(502, f"this proxy only reaches {self.server.host}")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in self.HOP_BY_HOP}
        upstream.request(self.command, target.path + (f"?{target.query}" if target.query else ""), body, headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in self.HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

    def log_message(self, *args):
        pass


@pytest.fixture
def mlflow_login_server(tmp_path, monkeypatch):
    """``mlflow server --app-name basic-auth`` on 127.0.0.1, as README sets one up: nothing without a login, a user
    ``MLFLOW_USER`` made by the admin; its URL."""
    folder = tmp_path / "mlflow-server"
    folder.mkdir()
    (folder / "basic_auth.ini").write_text(
        "[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{folder / 'basic_auth.db'}\nadmin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    env = {"MLFLOW_AUTH_CONFIG_PATH": str(folder / "basic_auth.ini"), "MLFLOW_AUTH_ADMIN_PASSWORD": "admin-password-1",
           "MLFLOW_FLASK_SERVER_SECRET_KEY": "csrf-key-of-the-test-server"}
    with running_mlflow_server(folder, "--app-name", "basic-auth", env=env) as url:
        from mlflow.server import get_app_client

        with monkeypatch.context() as admin:
            admin.setenv("MLFLOW_TRACKING_USERNAME", "admin")
            admin.setenv("MLFLOW_TRACKING_PASSWORD", "admin-password-1")
            get_app_client("basic-auth", tracking_uri=url).create_user(MLFLOW_USER, MLFLOW_PASSWORD)
        yield url


@pytest.fixture
def mlflow_by_name(mlflow_login_server):
    """The MLflow server as ``http://mlflow.test:PORT`` (a name that never resolves), reached through a forward
    proxy on loopback: what the launcher is told, and the proxy environment the "instance" needs to reach it."""
    parts = urlsplit(mlflow_login_server)
    proxy = ForwardProxy("mlflow.test", (parts.hostname, parts.port))
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield f"http://mlflow.test:{parts.port}", {"HTTP_PROXY": proxy.url, "http_proxy": proxy.url,
                                                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    proxy.shutdown()
    proxy.server_close()
