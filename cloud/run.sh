#!/bin/bash
# faceswap-pipeline: the SkyPilot task's run (cloud/task.py): train one attempt on this instance, in the project
# SkyPilot cloned at the pushed commit. SkyPilot runs it again on a new instance after a spot reclaim; it goes on
# from the checkpoints the training mirrored to $CHECKPOINT_MOUNT (the attempt's prefix of the bucket).
#
# Settings come as the task's envs (never a credential: S3 through the instance role, the MLflow login as
# SkyPilot secrets in the environment, so tracing shows nothing secret). Run elsewhere (the tests do), the same
# envs and a folder as the mount are all it needs.
set -euxo pipefail
export DVC_NO_ANALYTICS=1

dvc remote add --local --force --default "$DVC_REMOTE" "$REMOTE_URL"
if [ -n "$REMOTE_ENDPOINT" ]; then dvc remote modify --local "$DVC_REMOTE" endpointurl "$REMOTE_ENDPOINT"; fi
# shellcheck disable=SC2086  # PULL_TARGETS is a list of stage names
dvc pull $PULL_TARGETS
python3 -m cloud.instance params "$PARAMS_CHANGES"  # a sweep's changes to params.yaml

mkdir -p models/checkpoints "$CHECKPOINT_MOUNT"
cp -a "$CHECKPOINT_MOUNT/." models/checkpoints/  # an earlier instance's checkpoints, if any: training resumes
# --allow-missing: the stages above the pulled ones have no data here and are skipped when nothing else changed
FACESWAP_CHECKPOINT_MIRROR=$CHECKPOINT_MOUNT dvc repro --allow-missing "$TRAIN_STAGE"

dvc push "$TRAIN_STAGE"
python3 -m cloud.instance record  # dvc.lock and the outputs DVC does not push, under the attempt's prefix
