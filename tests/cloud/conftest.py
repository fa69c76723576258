"""Fixtures of the cloud tests: moto_server as AWS, a project pushed to a git remote, SkyPilot's home with a seeded
catalog, and a forward proxy that lets the "instance" reach an MLflow server by a name that is not loopback."""

import http.client
import http.server
import threading
from urllib.parse import urlsplit

import boto3
import pytest

from tests.cloud.support import (
    ACCESS_KEY,
    BUCKET,
    MLFLOW_PASSWORD,
    MLFLOW_USER,
    SECRET_KEY,
    push_to_new_origin,
    with_remote,
)
from tests.helpers import git_dvc_repo, running_mlflow_server


@pytest.fixture
def aws(s3_endpoint, monkeypatch):
    """moto_server as the AWS endpoint, with the DVC remote's bucket in it; the launcher's own credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = boto3.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    return s3


# SkyPilot's catalog of EC2 offers, as its fetcher writes it (sky/catalog/data_fetchers/fetch_aws.py), cut to
# what the tests launch: seeded, so that SkyPilot reads it instead of downloading the real one
VMS = ("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,"
       "AvailabilityZone,Arch,LocalDiskType,NVMeSupported,LocalDiskSize,LocalDiskCount,MaximumEfaInterfaces")
T4 = "\"{'Gpus': [{'Name': 'T4', 'Manufacturer': 'NVIDIA', 'Count': 1, 'MemoryInfo': {'SizeInMiB': 16384}}]}\""
OFFERS = [f"g4dn.xlarge,T4,1.0,4.0,16.0,{T4},0.526,{spot},{region},{zone},x86_64,ssd,True,125,1,0"
          for region, zone, spot in (("us-east-1", "use1-az1", 0.1578), ("us-east-1", "use1-az2", 0.1684),
                                     ("us-west-2", "usw2-az1", 0.2104))]
OFFERS += [f"m6i.large,,,2.0,8.0,,0.096,0.035,{region},{zone},x86_64,,,,,0"
           for region, zone in (("us-east-1", "use1-az1"), ("us-west-2", "usw2-az1"))]


@pytest.fixture
def sky_home(tmp_path, monkeypatch):
    """A HOME whose ``~/.sky`` holds the seeded catalog (and will hold SkyPilot's state), nothing else."""
    home = tmp_path / "sky-home"
    catalogs = home / ".sky/catalogs/v8"
    (catalogs / "aws").mkdir(parents=True)
    (catalogs / "common").mkdir()
    (catalogs / "aws/vms.csv").write_text("\n".join([VMS, *OFFERS]) + "\n")
    (catalogs / "aws/images.csv").write_text("Tag,Region,OS,OSVersion,ImageId,CreationDate\n")
    (catalogs / "aws/instance_quota_mapping.csv").write_text("InstanceType,QuotaCode\n")
    (catalogs / "common/accelerators.csv").write_text("AcceleratorName,Clouds\nT4,\"['AWS']\"\n")
    (catalogs / "common/metadata.csv").write_text("GPU,MemoryGB,Manufacturer\nT4,16,NVIDIA\n")
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def laptop(tmp_path, aws, s3_endpoint, monkeypatch):
    """A committed and pushed project (no data), as the working directory."""
    root = git_dvc_repo(tmp_path / "laptop")
    with_remote(root, s3_endpoint)
    push_to_new_origin(root)
    monkeypatch.chdir(root)
    return root


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
