"""Fixtures the tests share: the sample media, scratch copies of the project, aligned faces, a loopback S3,
headless Chromium."""

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import MEDIA, copy_project, free_port, running_mlflow_server, serving


def pytest_configure(config):
    """No DVC usage reports from the scratch repositories' ``dvc init`` (the project's own config turns them off
    once it is copied in): nothing goes out of 127.0.0.1."""
    os.environ["DVC_NO_ANALYTICS"] = "1"


@pytest.fixture(scope="session")
def media() -> Path:
    if not (MEDIA / "pair" / "target.mp4").is_file():
        pytest.fail(f"sample media not found at {MEDIA}; set FACESWAP_MEDIA to the shared/media folder")
    return MEDIA


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A copy of the project's code and params in a fresh folder, as the working directory."""
    root = copy_project(tmp_path / "project")
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="session")
def aligned_faces(tmp_path_factory, media) -> Path:
    """A folder ``data/alignments/{target,source}`` as the alignments stage writes it (faces, masks, landmarks
    and transforms), from the sample photographs: two faces a side, enough for a training stage to run. The
    source's second face is its first one mirrored: two_people.jpg's portraits must never be swap material
    (shared/media/PROVENANCE.md)."""
    import cv2

    from faceswap.faces.detect import FaceDetector
    from faceswap.faces.geometry import apply
    from faceswap.faces.landmarks import LandmarkModel, alignment_transform, hull_mask
    from faceswap.media.imageset import ShardWriter, encode_jpeg, encode_png

    root = tmp_path_factory.mktemp("aligned")
    detector, landmark_model = FaceDetector(score_threshold=0.6), LandmarkModel()
    def photo(name: str):
        return cv2.imread(str(media / "images" / name))

    sides = {"target": [photo("grace_hopper.jpg"), photo("astronaut.png")],
             "source": [photo("luispedro.jpg"), cv2.flip(photo("luispedro.jpg"), 1)]}
    for side, images in sides.items():
        with ShardWriter(root / "data/alignments" / side, "faces") as shards:
            for i, image in enumerate(images):
                landmarks = landmark_model.predict(image, detector.detect(image)[0].box)
                transform = alignment_transform(landmarks, 64, 0.1)
                face = cv2.warpAffine(image, transform, (64, 64), flags=cv2.INTER_AREA)
                shards.add(f"{side}_{i:06d}_0", {"jpg": encode_jpeg(face),
                                                 "mask.png": encode_png(hull_mask(apply(transform, landmarks), 64))},
                           {"landmarks_68": landmarks.round(2).tolist(), "transform": transform.round(6).tolist()})
    return root


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """A real AWS endpoint on loopback: moto_server (S3, and EC2, SSM, IAM for the cloud commands), with test
    credentials in the environment."""
    port = free_port()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    try:
        with serving([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                     tmp_path_factory.mktemp("moto") / "moto.log", port) as url:
            yield url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium (Debian's chromium and chromium-driver) driven by selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1600,1100",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=options)
    yield driver
    driver.quit()


@pytest.fixture
def mlflow_server(tmp_path):
    """``mlflow server`` on 127.0.0.1 with its own store, as a team would share one; its URL."""
    with running_mlflow_server(tmp_path) as url:
        yield url
