#!/bin/bash
# faceswap-pipeline: train one attempt on this EC2 instance, then power off, which terminates it.
#
# The instance's user data, rendered by cloud/ec2.py, which fills in the settings below (never
# credentials: the instance reaches S3 through its IAM role). In order: schedule the power-off at the time
# limit, install requirements-gpu.txt, check out the commit, pull only what the training stage reads, train,
# push the model, upload dvc.lock, the metrics DVC does not push, and this log under the attempt's prefix in
# the DVC remote. A trap powers
# off whatever happens, and a failed step still uploads the log.
#
# To run it elsewhere (the tests do), set:
#   FACESWAP_WORKDIR       where to clone and log (default /opt/faceswap)
#   FACESWAP_SKIP_INSTALL  1: use the python3 and dvc on PATH instead of installing requirements-gpu.txt
#   FACESWAP_POWEROFF      the power-off command, called with `+MINUTES` then `now` (default: shutdown -P)
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

upload() {  # upload FILE NAME: FILE to s3://$ATTEMPT_BUCKET/$ATTEMPT_PREFIX/NAME
    python3 - "$1" "$ATTEMPT_PREFIX/$2" <<'PY'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["REMOTE_ENDPOINT"] or None)
s3.upload_file(sys.argv[1], os.environ["ATTEMPT_BUCKET"], sys.argv[2])
print(f"bootstrap: uploaded s3://{os.environ['ATTEMPT_BUCKET']}/{sys.argv[2]}")
PY
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
    git clone --quiet "$GIT_URL" "$WORKDIR/project"
    cd "$WORKDIR/project"
    git checkout --quiet "$COMMIT"
    if [ "${FACESWAP_SKIP_INSTALL:-0}" != 1 ]; then install; fi
    dvc remote add --local --force --default "$DVC_REMOTE" "$REMOTE_URL"
    if [ -n "$REMOTE_ENDPOINT" ]; then dvc remote modify --local "$DVC_REMOTE" endpointurl "$REMOTE_ENDPOINT"; fi
    # shellcheck disable=SC2086  # PULL_TARGETS is a list of stage names
    dvc pull $PULL_TARGETS
    # stages above the pulled ones have no data here; --allow-missing skips them when nothing else changed
    dvc repro --allow-missing "$TRAIN_STAGE"
    dvc push "$TRAIN_STAGE"
    for path in $UNCACHED_OUTS; do upload "$path" "outs/$path"; done
    upload dvc.lock dvc.lock
}

mkdir -p "$WORKDIR"
echo "bootstrap: attempt $ATTEMPT, commit $COMMIT, $(date -u +%FT%TZ)" | tee "$LOG"
(train) 2>&1 | tee -a "$LOG"
status=${PIPESTATUS[0]}
echo "bootstrap: finished with exit status $status, $(date -u +%FT%TZ)" | tee -a "$LOG"
upload "$LOG" bootstrap.log
exit "$status"
