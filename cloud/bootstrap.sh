#!/bin/bash
# faceswap-pipeline: train one attempt on this EC2 instance, then power off, which terminates it.
#
# The instance's user data, rendered by cloud/ec2.py, which fills in the settings below (never
# credentials: the instance reaches S3 through its IAM role). In order: schedule the power-off at the time
# limit, install requirements-gpu.txt, check out the commit, pull only what the training stage reads, train
# under cloud/supervise.py (which restores the attempt's pushed checkpoints first, pushes new ones while it
# trains, and stops at a spot interruption notice or near the time limit), push the model, upload dvc.lock,
# the metrics DVC does not push, and this log under the attempt's prefix in the DVC remote. A trap powers
# off whatever happens, and a failed step still uploads the log (with the AWS CLI if there is no boto3 yet).
# No secret is ever a shell variable here, so tracing (set -x) shows nothing secret: MLflow credentials are
# read from SSM by cloud/supervise.py, in Python, with the instance role.
#
# To run it elsewhere (the tests do), set:
#   FACESWAP_WORKDIR       where to clone and log (default /opt/faceswap)
#   FACESWAP_SKIP_INSTALL  1: use the python3 and dvc on PATH instead of installing requirements-gpu.txt
#   FACESWAP_POWEROFF      the power-off command, called with `+MINUTES` then `now` (default: shutdown -P)
#   FACESWAP_METADATA_URL  the instance metadata service (default http://169.254.169.254), for the spot notice
#   FACESWAP_POLL_SECONDS  how often the spot notice and the checkpoints are looked at (default 5)
set -uo pipefail

# @SETTINGS@

WORKDIR=${FACESWAP_WORKDIR:-/opt/faceswap}
POWEROFF=${FACESWAP_POWEROFF:-shutdown -P}
LOG=$WORKDIR/bootstrap.log
export HOME=${HOME:-/root} DVC_NO_ANALYTICS=1
if [ "${FACESWAP_SKIP_INSTALL:-0}" != 1 ]; then
    # the venv is made inside train's subshell; putting it on PATH here lets upload below use it too
    export PATH=$WORKDIR/venv/bin:$PATH
fi

power_off() { $POWEROFF now; }
trap power_off EXIT
$POWEROFF "+$MAX_MINUTES"  # first, so that the time limit holds even if a step below hangs
# training stops this long before the power-off, to push its checkpoints and this log in time
STOP_AT=$(( $(date +%s) + MAX_MINUTES * 60 - STOP_MARGIN_MINUTES * 60 ))
export STOP_AT
INTERRUPTED=75  # cloud/supervise.py's status when it stopped training before the end

upload() {  # upload FILE NAME: FILE to s3://$ATTEMPT_BUCKET/$ATTEMPT_PREFIX/NAME, with boto3 or the AWS CLI
    if ! python3 -c 'import boto3' 2>/dev/null; then  # before the venv exists (git clone failed, ...)
        aws s3 cp --only-show-errors ${REMOTE_ENDPOINT:+--endpoint-url "$REMOTE_ENDPOINT"} "$1" \
            "s3://$ATTEMPT_BUCKET/$ATTEMPT_PREFIX/$2" && echo "bootstrap: uploaded s3://$ATTEMPT_BUCKET/$ATTEMPT_PREFIX/$2"
        return
    fi
    python3 - "$1" "$ATTEMPT_PREFIX/$2" <<'PY'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["REMOTE_ENDPOINT"] or None)
s3.upload_file(sys.argv[1], os.environ["ATTEMPT_BUCKET"], sys.argv[2])
print(f"bootstrap: uploaded s3://{os.environ['ATTEMPT_BUCKET']}/{sys.argv[2]}")
PY
}

git_credentials() {  # a private repository: git asks this helper, which reads the token from SSM when asked
    cat > "$WORKDIR/git-credential-ssm" <<'SH'
#!/bin/bash
# git credential helper: prints the token of SSM SecureString $GIT_TOKEN_PARAMETER, read with the instance role
[ "$1" = get ] || exit 0
token=$(python3 -c 'import os, boto3; print(boto3.client("ssm").get_parameter(
    Name=os.environ["GIT_TOKEN_PARAMETER"], WithDecryption=True)["Parameter"]["Value"])' 2>/dev/null ||
    aws ssm get-parameter --with-decryption --name "$GIT_TOKEN_PARAMETER" --query Parameter.Value --output text)
printf 'username=x-access-token\npassword=%s\n' "$token"
SH
    chmod 700 "$WORKDIR/git-credential-ssm"
    export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=credential.helper GIT_CONFIG_VALUE_0="$WORKDIR/git-credential-ssm"
}

install() {
    if ! python3 -m venv "$WORKDIR/venv"; then  # some Ubuntu images lack ensurepip
        apt-get -o DPkg::Lock::Timeout=600 update
        apt-get -o DPkg::Lock::Timeout=600 install -y python3-venv
        python3 -m venv "$WORKDIR/venv"
    fi
    pip install --quiet --disable-pip-version-check -r requirements-gpu.txt
}

train() {
    set -ex
    if [ -n "$GIT_TOKEN_PARAMETER" ]; then git_credentials; fi
    git clone --quiet "$GIT_URL" "$WORKDIR/project"
    cd "$WORKDIR/project"
    git checkout --quiet "$COMMIT"
    if [ "${FACESWAP_SKIP_INSTALL:-0}" != 1 ]; then install; fi
    dvc remote add --local --force --default "$DVC_REMOTE" "$REMOTE_URL"
    if [ -n "$REMOTE_ENDPOINT" ]; then dvc remote modify --local "$DVC_REMOTE" endpointurl "$REMOTE_ENDPOINT"; fi
    # shellcheck disable=SC2086  # PULL_TARGETS is a list of stage names
    dvc pull $PULL_TARGETS
    # dvc repro --allow-missing "$TRAIN_STAGE" (stages above the pulled ones have no data here; --allow-missing
    # skips them when nothing else changed), between the checkpoints' restore and their last push
    python3 -m cloud.supervise
    dvc push "$TRAIN_STAGE"
    for path in $UNCACHED_OUTS; do upload "$path" "outs/$path"; done
    upload dvc.lock dvc.lock
}

mkdir -p "$WORKDIR"
echo "bootstrap: attempt $ATTEMPT, commit $COMMIT, $(date -u +%FT%TZ)" | tee "$LOG"
(train) 2>&1 | tee -a "$LOG"
status=${PIPESTATUS[0]}
echo "bootstrap: finished with exit status $status, $(date -u +%FT%TZ)" | tee -a "$LOG"
if [ "$status" = "$INTERRUPTED" ]; then
    echo "bootstrap: interrupted; its checkpoints are in the remote, so launching the same attempt goes on:" \
        "python -m cloud launch --attempt $ATTEMPT" | tee -a "$LOG"
fi
upload "$LOG" bootstrap.log
exit "$status"
