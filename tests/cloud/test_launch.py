"""``python -m cloud launch`` and ``sweep``: the SkyPilot task they build, SkyPilot's own plan for it against moto's
EC2 on loopback with a seeded catalog, and every bad input stopped with one line before anything starts.

The dry run is SkyPilot's optimizer, in this process: it reads the catalog, asks "AWS" (moto, through
``AWS_ENDPOINT_URL``) for its zones, and prints the instance, zone, market and price it would launch. Proxies
that lead nowhere show that nothing else is contacted.
"""

import json
import os
import subprocess

import pytest
import yaml

from cloud import attempts
from cloud.account import CONTROLLER_PROFILE, INSTANCE_PROFILE
from tests.cloud.support import (
    ACCESS_KEY,
    BUCKET,
    CLOUD_PYTHON,
    MLFLOW_SERVER,
    SECRET_KEY,
    cloud,
    dry_run_tasks,
    launch_args,
)
from tests.helpers import REPO, error_lines, set_params, sh

NOWHERE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
TOKEN = "ghp_s3cretTOKENthatMustNotLeak"


def test_the_dry_run_prints_the_task_and_skypilots_g4dn_spot_plan(laptop, aws, sky_home):
    commit = sh("git", "rev-parse", "HEAD", cwd=laptop).stdout.strip()
    result = cloud(*launch_args("dry-1", "--dry-run"), env=NOWHERE)
    assert result.returncode == 0, result.stderr[-3000:]
    (task,) = dry_run_tasks(result.stdout)
    assert task["name"] == "dry-1"
    assert task["workdir"] == {"url": str(laptop.with_name("laptop-origin.git")), "ref": commit}
    assert task["resources"] == {"infra": "aws", "use_spot": True, "disk_size": 100, "accelerators": "T4:1",
                                 "job_recovery": {"strategy": "EAGER_NEXT_REGION"}}
    assert task["file_mounts"] == {"/checkpoints": {
        "source": f"s3://{BUCKET}/store/attempts/dry-1/checkpoints", "mode": "MOUNT_CACHED"}}
    envs = task["envs"]
    assert envs["ATTEMPT_PREFIX"] == "store/attempts/dry-1" and envs["REMOTE_URL"] == f"s3://{BUCKET}/store"
    assert envs["PULL_TARGETS"] == "alignments@source alignments@target"
    assert envs["UNCACHED_OUTS"] == "data/metrics/model.json data/metrics/model-loss.csv"
    assert envs["MLFLOW_TRACKING_URI"] == MLFLOW_SERVER and envs["PARAMS_CHANGES"] == "{}"
    assert "requirements-gpu.txt" in task["setup"] and "cloud/run.sh" in task["run"]
    plan = result.stdout.split("# plan:", 1)[1]
    row = next(line for line in plan.splitlines() if "g4dn.xlarge" in line)
    assert "AWS (us-east-1" in row and "g4dn.xlarge[Spot]" in row and "T4:1" in row and "0.16" in row
    for secret in (ACCESS_KEY, SECRET_KEY, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert secret not in result.stdout + result.stderr


def test_gpus_instance_type_regions_and_on_demand_reach_the_task(laptop, aws, sky_home):
    result = cloud(*launch_args("dry-2", "--dry-run", "--instance-type", "g4dn.xlarge", "--on-demand",
                                "--region", "us-west-2", "--disk-gb", "200"), env=NOWHERE)
    assert result.returncode == 0, result.stderr[-3000:]
    (task,) = dry_run_tasks(result.stdout)
    assert task["resources"] == {"use_spot": False, "disk_size": 200, "instance_type": "g4dn.xlarge",
                                 "job_recovery": {"strategy": "EAGER_NEXT_REGION"},
                                 "any_of": [{"infra": "aws/us-west-2"}]}
    row = next(line for line in result.stdout.split("# plan:", 1)[1].splitlines() if "g4dn.xlarge" in line)
    assert "us-west-2" in row and "[Spot]" not in row and "0.53" in row


def test_a_sweep_is_one_attempt_per_combination_each_with_its_checkpoint_prefix(laptop, aws, sky_home):
    result = cloud("sweep", "--dry-run", "--attempt", "lr", "--mlflow-uri", MLFLOW_SERVER,
                   "-S", "model.learning_rate=1e-4,5e-4", "-S", "model.seed=0,1", env=NOWHERE)
    assert result.returncode == 0, result.stderr[-3000:]
    tasks = dry_run_tasks(result.stdout)
    assert [t["name"] for t in tasks] == ["lr-1", "lr-2", "lr-3", "lr-4"]
    assert [yaml.safe_load(t["envs"]["PARAMS_CHANGES"]) for t in tasks] == [
        {"model.learning_rate": 0.0001, "model.seed": 0}, {"model.learning_rate": 0.0001, "model.seed": 1},
        {"model.learning_rate": 0.0005, "model.seed": 0}, {"model.learning_rate": 0.0005, "model.seed": 1}]
    mounts = [t["file_mounts"]["/checkpoints"]["source"] for t in tasks]
    assert mounts == [f"s3://{BUCKET}/store/attempts/lr-{i}/checkpoints" for i in range(1, 5)]


def test_the_mlflow_login_goes_to_skypilot_as_secrets_named_never_shown(laptop, aws, sky_home):
    login = {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": TOKEN}
    result = cloud(*launch_args("creds-1", "--dry-run", mlflow_uri="https://mlflow.example"), env={**NOWHERE, **login})
    assert result.returncode == 0, result.stderr[-3000:]
    (task,) = dry_run_tasks(result.stdout)
    assert task["secrets"] == {"MLFLOW_TRACKING_USERNAME": None, "MLFLOW_TRACKING_PASSWORD": None}
    assert TOKEN not in result.stdout + result.stderr and "alice" not in result.stdout + result.stderr
    plain = cloud(*launch_args("creds-2", "--dry-run", mlflow_uri="http://mlflow.example"), env={**NOWHERE, **login})
    assert "warning: http://mlflow.example is plain http: the password crosses the network in clear" in plain.stderr


@pytest.mark.parametrize("case, args, message", [
    ("git url", ["--git-url", f"https://{TOKEN}@github.com/me/faceswap.git"],
     "error: --git-url: the URL holds credentials, which would be shown with the task; give it without them and set "
     "GIT_TOKEN here: SkyPilot clones with it as a secret"),
    ("git url with user", ["--git-url", f"https://me:{TOKEN}@gitlab.example/me/faceswap.git"],
     "error: --git-url: the URL holds credentials"),
    ("git remote", [], "error: git remote 'origin': the URL holds credentials"),
    ("mlflow uri", ["--mlflow-uri", f"https://alice:{TOKEN}@mlflow.example"],
     "error: --mlflow-uri: the URI holds credentials, which would be shown with the task; give it without them and "
     "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD here: launch hands them to SkyPilot as secrets"),
])
def test_a_token_in_a_url_is_refused_and_printed_nowhere(laptop, aws, case, args, message):
    if case == "git remote":
        sh("git", "remote", "set-url", "--push", "origin", str(laptop.with_name("laptop-origin.git")), cwd=laptop)
        sh("git", "remote", "set-url", "origin", f"https://{TOKEN}@github.com/me/faceswap.git", cwd=laptop)
    result = cloud(*launch_args("secret-1", *args, "--dry-run"))
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith(message)
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize("uri, message", [
    ("sqlite:///mlflow.db", "error: --mlflow-uri sqlite:///mlflow.db: the instance can only log to an MLflow server; "
                            "give its http:// or https:// URL (a sqlite:, file: or local store stays on this machine)"),
    ("http://127.0.0.1:5000", "error: --mlflow-uri http://127.0.0.1:5000: 127.0.0.1 is this machine, which the "
                              "instance cannot reach; give the address of a server both reach"),
    ("http://localhost:5000", "error: --mlflow-uri http://localhost:5000: localhost is this machine"),
    ("http://[::1]:5000", "error: --mlflow-uri http://[::1]:5000: ::1 is this machine"),
])
def test_an_mlflow_uri_the_instance_cannot_reach_is_refused(laptop, aws, uri, message):
    result = cloud(*launch_args("uri-1", "--dry-run", mlflow_uri=uri))
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert line.startswith(message)


@pytest.mark.parametrize("case, message", [
    ("no remote", "error: no DVC remote configured; run `dvc remote add -d storage s3://BUCKET/PATH`"),
    ("unpushed commit", "is not on any remote branch; git push it first"),
    ("no mlflow", "error: no MLflow tracking URI;"),
    ("uncommitted params", "error: params.yaml: not committed, so the instance would not see it;"),
    ("unknown key", "error: -S model.lerning_rate=1e-4,5e-4: give section.key=value[,value...] with a key params.yaml"),
    ("bad attempt id", "error: attempt id 'a/b': use 1 to 64 letters, digits, '.', '_' or '-'"),
])
def test_bad_input_stops_with_one_error_line_before_anything_starts(laptop, aws, monkeypatch, case, message):
    args = ["sweep", "--attempt", "bad-1", "-S", "model.learning_rate=1e-4,5e-4"]
    args += [] if case == "no mlflow" else ["--mlflow-uri", MLFLOW_SERVER]
    if case == "no remote":
        sh("dvc", "remote", "remove", "--local", "storage", cwd=laptop)  # the committed config names no bucket
    elif case == "unpushed commit":
        set_params(laptop, {"model": {"steps": 3}})
        sh("git", "commit", "-qam", "local only", cwd=laptop)
    elif case == "uncommitted params":
        set_params(laptop, {"model": {"steps": 3}})
    elif case == "no mlflow":
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    elif case == "unknown key":
        args[4] = "model.lerning_rate=1e-4,5e-4"
    elif case == "bad attempt id":
        args[2] = "a/b"
    result = cloud(*args)
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert message in line
    assert "Traceback" not in result.stderr


def test_launch_takes_one_value_per_key(laptop, aws):
    result = cloud(*launch_args("one-1", "-S", "model.learning_rate=1e-4,5e-4"))
    assert result.returncode == 2 and "launch -S takes one value per key; use sweep for several" in result.stderr


def test_skypilot_gives_the_controller_and_the_training_instances_the_roles_setup_makes(tmp_path):
    """``.sky.yaml`` as SkyPilot reads it (its own loader and schema): the jobs controller gets the role that may
    launch, every other cluster the one that reaches only the remote's prefix."""
    program = ("import fnmatch, json\nfrom sky import skypilot_config\nskypilot_config.reload_config()\n"
               "rules = skypilot_config.get_nested(('aws', 'remote_identity'), None)\n"
               "pick = lambda name: next(v for r in rules for k, v in r.items() if fnmatch.fnmatchcase(name, k))\n"
               "print(json.dumps([pick('sky-jobs-controller-1a2b3c4d'), pick('lr-1-2ea4')]))")
    result = subprocess.run([str(CLOUD_PYTHON), "-c", program], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == [CONTROLLER_PROFILE, INSTANCE_PROFILE]


def test_fetch_of_an_attempt_that_uploaded_nothing_says_where_it_looked(laptop, aws):
    result = cloud("fetch", "nothing-1")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        f"error: attempt nothing-1: no dvc.lock under s3://{BUCKET}/store/attempts/nothing-1/ yet; it is still "
        "training or it failed: sky jobs queue; sky jobs logs JOB"]
    assert not (laptop / "dvc.lock").exists()


def test_merge_lock_takes_the_attempts_training_entry_and_keeps_local_ones(tmp_path):
    local = tmp_path / "dvc.lock"
    local.write_text(yaml.safe_dump({"schema": "2.0", "stages": {"alignments@target": {"cmd": "here"},
                                                                 "model": {"cmd": "old"}}}))
    attempts.merge_lock(local, yaml.safe_dump({"schema": "2.0", "stages": {
        "alignments@target": {"cmd": "there"}, "alignments@source": {"cmd": "there"}, "model": {"cmd": "new"}}}))
    assert yaml.safe_load(local.read_text())["stages"] == {
        "alignments@target": {"cmd": "here"}, "model": {"cmd": "new"}, "alignments@source": {"cmd": "there"}}


def test_gpu_requirements_are_the_cpu_ones_with_cuda_tensorflow():
    def pins(name):
        lines = (line.split("#")[0].strip() for line in (REPO / name).read_text().splitlines())
        return [line for line in lines if line]

    cpu, gpu = pins("requirements.txt"), pins("requirements-gpu.txt")
    assert [line.replace("tensorflow-cpu==", "tensorflow[and-cuda]==") for line in cpu] == gpu
    cloud_pins = pins("requirements-cloud.txt")
    assert [line for line in cpu if line.startswith(("dvc", "boto3"))] == [
        line for line in cloud_pins if line.startswith(("dvc", "boto3"))]  # the launcher reads DVC as the stages do


def test_fetch_refuses_an_attempt_trained_on_other_faces_or_params(laptop, aws):
    """The attempt's dvc.lock says what it trained on; a working tree with other faces or params is refused,
    each difference named, and nothing is merged."""
    params = yaml.safe_load((laptop / "params.yaml").read_text())
    local_lock = {"schema": "2.0", "stages": {"alignments@target": {"cmd": "x", "outs": [
        {"path": "data/alignments/target", "md5": "aaaa.dir"}]}}}
    (laptop / "dvc.lock").write_text(yaml.safe_dump(local_lock))
    trained = {"schema": "2.0", "stages": {"model": {"cmd": "python -m stages.model", "deps": [
        {"path": "data/alignments/target", "md5": "bbbb.dir"}, {"path": "stages/model.py", "md5": "cccc"}],
        "params": {"params.yaml": {"model": {**params["model"], "steps": params["model"]["steps"] * 2}}}}}}
    aws.put_object(Bucket=BUCKET, Key="store/attempts/other-1/dvc.lock", Body=yaml.safe_dump(trained))
    result = cloud("fetch", "other-1")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "error: attempt other-1 trained on other faces or params than this working tree: data/alignments/target "
        "(attempt bbbb.dir, here aaaa.dir); params.yaml model.steps (attempt "
        f"{params['model']['steps'] * 2}, here {params['model']['steps']}); check out the commit it ran and "
        "`dvc pull` its faces, or set its params here"]
    assert yaml.safe_load((laptop / "dvc.lock").read_text()) == local_lock
