"""The review server's parts without a browser: the exclusion list edited as by hand, faces read by key from the
shards, yaw from the landmarks, and the web API's safety (foreign Host and Origin refused, keys and polygons
checked before anything is written) on a small project of real shards made from a sample photograph."""

import io
import json
import os
import subprocess
import sys
import tarfile
import time

import cv2
import numpy as np
import pytest

from faceswap.core import paths
from faceswap.faces.alignments_file import alignments_document, write_alignments
from faceswap.faces.pose import yaw_degrees
from faceswap.faces.rules import VERDICTS, read_exclusions, write_verdicts
from faceswap.faces.timeline_file import timeline, write_timeline
from faceswap.media.imageset import ShardWriter, encode_jpeg, iter_samples, read_index, ustar_members
from faceswap.media.index_columns import read_columns
from faceswap.media.shard_reader import ShardReader
from review import exclusions
from review.app import create_app
from tests.helpers import REPO, error_lines, free_port, serving, set_params

PORT = 8765
HOST = f"127.0.0.1:{PORT}"
TOKEN = "this-launch-token"


def test_review_exclusion_edit_keeps_comments_appends_and_removes(tmp_path):
    path = tmp_path / "target.txt"
    path.write_text("# faces to drop\ntarget_000001_0  # a hand\n\ntarget_000002_0\n")
    assert exclusions.edit(path, ["target_000003_0", "target_000001_0"], ["target_000002_0"]) == {
        "target_000001_0", "target_000003_0"}
    assert path.read_text() == "# faces to drop\ntarget_000001_0  # a hand\n\ntarget_000003_0\n"
    with pytest.raises(ValueError):
        exclusions.edit(path, ["../../etc/passwd"], [])
    assert path.read_text().endswith("target_000003_0\n") and not list(tmp_path.glob(".*"))


EDITOR = """
import sys, time
from pathlib import Path
from review import exclusions
path, name, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
for i in range(100):
    exclusions.edit(path, [f"{name}_{i:06d}_0"], [])
"""


def test_review_exclusion_edits_from_two_processes_at_once_are_all_kept(tmp_path):
    """Two review servers on one project (two terminals): each edit reads, changes and writes the whole list, so
    without a lock across processes one server's write drops the other's keys."""
    path, go = tmp_path / "target.txt", tmp_path / "go"
    path.write_text("# faces to drop\n")
    editors = [subprocess.Popen([sys.executable, "-c", EDITOR, str(path), name, str(go)], cwd=REPO,
                                stdout=subprocess.PIPE, text=True) for name in ("a", "b")]
    assert [editor.stdout.readline() for editor in editors] == ["ready\n"] * 2
    go.touch()
    assert [editor.wait(60) for editor in editors] == [0, 0]
    assert read_exclusions(path) == {f"{name}_{i:06d}_0" for name in ("a", "b") for i in range(100)}
    assert path.read_text().startswith("# faces to drop\n")
    assert sorted(child.name for child in tmp_path.iterdir()) == ["go", "target.txt"]  # no lock or temporary left


def test_review_shard_reader_reads_each_sample_by_key(tmp_path):
    with ShardWriter(tmp_path, "set", shard_size=3) as shards:
        for i in range(7):
            shards.add(f"k_{i}", {"jpg": bytes([i]) * (100 + i), "mask.png": b"m" * i}, {"i": i})
    reader = ShardReader(tmp_path)
    for record, files in iter_samples(tmp_path):
        assert reader.read(record["key"]) == files["jpg"]
        assert reader.read(record["key"], "mask.png") == files["mask.png"]
    for missing in ("k_9", "../k_1", "k_1.jpg"):
        with pytest.raises(KeyError):
            reader.read(missing)


def test_review_shard_reader_falls_back_to_tarfile_for_other_tar_formats(tmp_path):
    """A shard another tool wrote with pax headers (here for a name longer than USTAR's 100 characters)."""
    key = "k" * 120
    with tarfile.open(tmp_path / "set-00000.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        member = tarfile.TarInfo(f"{key}.jpg")
        member.size = 5
        tar.addfile(member, io.BytesIO(b"bytes"))
    (tmp_path / "index.jsonl").write_text(json.dumps({"key": key, "shard": "set-00000.tar"}) + "\n")
    assert ustar_members(tmp_path / "set-00000.tar") is None
    assert ShardReader(tmp_path).read(key) == b"bytes"


def test_review_index_columns_are_the_index_records(tmp_path):
    with ShardWriter(tmp_path / "set", "set") as shards:
        for i in range(5):
            shards.add(f"k_{i}", {"jpg": b"x"}, {"score": i / 10, "box": [i, 1, 2, 3], "late": i} if i > 2
                       else {"score": i / 10, "box": [i, 1, 2, 3]})
    columns = read_columns(tmp_path / "set", ("key", "score", "box", "late", "absent"))
    records = read_index(tmp_path / "set")
    assert columns["key"] == [r["key"] for r in records] and columns["absent"] is None
    assert columns["score"].tolist() == [r["score"] for r in records]
    assert columns["box"].tolist() == [r["box"] for r in records]
    assert np.isnan(columns["late"][:3]).all() and columns["late"][3:].tolist() == [3, 4]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty/index.jsonl").write_text("")
    assert read_columns(tmp_path / "empty", ("key",)) == {"key": None}


def test_review_yaw_is_zero_for_a_frontal_face_and_signed_by_the_turn():
    frontal = np.zeros((68, 2))
    frontal[[0, 16, 30]] = [[0, 100], [200, 100], [100, 130]]  # jaw ends level, nose tip half-way
    assert yaw_degrees(frontal) == 0
    right, left = frontal.copy(), frontal.copy()
    right[30, 0] += 60
    left[30, 0] -= 60
    assert yaw_degrees(right) == -yaw_degrees(left) > 20


@pytest.fixture
def small_project(project, media):
    """Frames, crops, filtered and alignments of a 3-frame target made of one sample photograph (real shards and
    a real alignments file); frame 1's face is dropped by ``filtered``. No mask labels yet: the ones the
    project ships belong to the sample's own target."""
    paths.MASK_LABELS.unlink()
    image = cv2.imread(str(media / "images/grace_hopper.jpg"))
    height, width = image.shape[:2]
    videos = {"target": {"sample_rate": "25/1", "frames": 3, "width": width, "height": height}}
    points = np.stack([np.linspace(100, 300, 68), np.linspace(80, 280, 68)], axis=1).round(1)
    faces = [{"key": f"target_{i:06d}_0", "frame_key": f"target_{i:06d}", "video": "target", "frame": i,
              "box": [100.0, 80.0, 200.0, 200.0], "score": 0.9 - i / 10, "identity_distance": 0.2 + i / 10,
              "sharpness": 50.0, "landmarks_5": points[:5].tolist(), "landmarks_68": points.tolist(),
              "transform": [[1, 0, 0], [0, 1, 0]]} for i in range(3)]
    for stage, keep in (("frames", None), ("crops", (0, 1, 2)), ("filtered", (0, 2)), ("alignments", (0, 2))):
        folder = paths.stage_output(stage, "target")
        with ShardWriter(folder, stage) as shards:
            for i in range(3) if keep is None else keep:
                key = f"target_{i:06d}" if keep is None else faces[i]["key"]
                shards.add(key, {"jpg": encode_jpeg(image)}, {"video": "target", "frame": i}
                           if keep is None else {k: v for k, v in faces[i].items() if k != "key"})
        (folder / paths.VIDEOS_FILE).write_text(json.dumps(videos))
    write_verdicts(paths.stage_output("filtered", "target") / paths.VERDICTS_FILE, [f["key"] for f in faces],
                   bytes(VERDICTS.index(verdict) for verdict in ("kept", "identity", "kept")))
    document = alignments_document("target", videos, [faces[0], faces[2]], {"aligned_size": 64, "padding": 0.1})
    written = write_alignments(paths.stage_output("alignments", "target") / paths.ALIGNMENTS_FILE, document)
    write_timeline(paths.timeline("target"), timeline(written))
    return project


def opened_client():
    """A test client that has opened the URL the server prints, as a person's browser does."""
    client = create_app(PORT, TOKEN).test_client()
    assert client.get(f"/?token={TOKEN}", headers={"Host": HOST}).status_code == 302
    return client


@pytest.fixture
def client(small_project):
    return opened_client()


def post(client, url, body, **headers):
    return client.post(url, json=body, headers={"Host": HOST, **headers})


def test_review_api_pages_sorts_and_marks_what_filtered_removed(client):
    result = client.get("/api/faces/target?sort=identity&order=desc&per_page=2", headers={"Host": HOST}).json
    assert result["total"] == 3 and [f["key"] for f in result["faces"]] == ["target_000002_0", "target_000000_0"]
    last = client.get("/api/faces/target?sort=identity&order=desc&per_page=2&page=1", headers={"Host": HOST}).json
    assert [(f["key"], f["status"], f["identity"]) for f in last["faces"]] == [("target_000001_0", "identity", None)]
    assert client.get("/api/faces/target?sort=name", headers={"Host": HOST}).status_code == 400
    timeline = client.get("/api/timeline", headers={"Host": HOST}).json
    assert timeline["videos"][0]["strip"] == "dmd"
    assert timeline["missing"] == [{"video": "target", "first": 1, "last": 1, "start": 0.04, "end": 0.08}]
    image = client.get("/thumb/target/target_000001_0.jpg", headers={"Host": HOST})
    assert image.status_code == 200 and cv2.imdecode(np.frombuffer(image.data, np.uint8), 1) is not None


def test_review_api_judges_a_face_filtered_has_not_judged_by_the_screening_rules(small_project):
    """Opened before filtered has written its verdicts: a face the screening rules pass shows as "measured" (its
    identity and sharpness are for filtered to judge), one they remove shows the rule."""
    (paths.stage_output("filtered", "target") / paths.VERDICTS_FILE).unlink()
    set_params(small_project, {"filtered": {"min_score": 0.85}})  # faces 1 (0.8) and 2 (0.7) fall below it
    result = opened_client().get("/api/faces/target?sort=time", headers={"Host": HOST}).json
    assert [f["status"] for f in result["faces"]] == ["measured", "min_score", "min_score"]


def test_review_api_refuses_foreign_hosts_origins_forms_and_unknown_keys(client, small_project):
    exclusion_file = small_project / paths.exclusions("target")
    before = exclusion_file.read_text()
    assert client.get("/api/timeline", headers={"Host": "attacker.example:8765"}).status_code == 403
    assert post(client, "/api/exclusions/target", {"exclude": ["target_000000_0"]},
                Origin="http://attacker.example").status_code == 403
    form = client.post("/api/exclusions/target", data={"exclude": "target_000000_0"}, headers={"Host": HOST})
    assert form.status_code == 400
    for key in ("target_000009_0", "../../x", "target_000000_0\nx"):
        assert post(client, "/api/exclusions/target", {"exclude": [key]}).status_code == 404
    assert post(client, "/api/exclusions/target", {"exclude": "target_000000_0"}).status_code == 400
    assert exclusion_file.read_text() == before

    done = post(client, "/api/exclusions/target", {"exclude": ["target_000000_0"]}, Origin=f"http://{HOST}")
    assert done.status_code == 200 and done.json["counts"]["excluded"] == 1
    assert exclusion_file.read_text() == before + "target_000000_0\n"
    timeline = client.get("/api/timeline", headers={"Host": HOST}).json
    assert timeline["videos"][0]["strip"] == "xmd"


def test_review_api_checks_mask_labels_before_writing_them(client, small_project):
    labels = small_project / paths.MASK_LABELS
    square = [[10, 10], [60, 10], [60, 60], [10, 60]]
    assert post(client, "/api/labels/target_000007", {"label": {"occluders": [square]}}).status_code == 404
    bad = post(client, "/api/labels/target_000000", {"label": {"occluders": [[[1, 2], [3, 4]]]}})
    assert bad.status_code == 400 and "3 to 512" in bad.json["error"]
    assert not labels.exists()
    assert post(client, "/api/labels/target_000000", {"label": {"occluders": [square]}}).status_code == 200
    assert json.loads(labels.read_text())["frames"] == {"target_000000": {"occluders": [square], "face": []}}
    frame = client.get("/api/frame/target_000000", headers={"Host": HOST}).json
    assert frame["labels"]["occluders"] == [square] and len(frame["landmarks"]) == 68
    assert post(client, "/api/labels/target_000000", {"label": None}).json["labelled"] == 0


def test_review_api_lists_keys_that_match_no_face_and_takes_them_off(small_project):
    exclusion_file = small_project / paths.exclusions("target")
    exclusion_file.write_text(exclusion_file.read_text() + "target_000099_0  # a typo\ntarget_000001_0\n")
    client = opened_client()
    faces = client.get("/api/faces/target?filter=excluded", headers={"Host": HOST}).json
    assert faces["stale"] == ["target_000099_0"] and [f["key"] for f in faces["faces"]] == ["target_000001_0"]
    done = post(client, "/api/exclusions/target", {"restore": ["target_000099_0"]})
    assert done.status_code == 200 and done.json["stale"] == [] and done.json["excluded"] == 1
    assert "target_000099_0" not in exclusion_file.read_text() and exclusion_file.read_text().endswith(
        "target_000001_0\n")


def faces_jpegs(count: int) -> dict[str, bytes]:
    """A different image for each face key of the small project, of different sizes (so at other offsets)."""
    return {f"target_{i:06d}_0": encode_jpeg(np.full((40 + 16 * i, 48, 3), 60 * i + 20, np.uint8))
            for i in range(count)}


def test_review_thumbnails_follow_a_stage_output_rewritten_while_the_page_runs(client, small_project, tmp_path):
    """``dvc repro`` rewrites the crops while the page runs: each thumbnail is then the new face of its key (never
    0 bytes or another face's), the page's faces are the new index's, and a browser's cached copy is revalidated."""
    crops = paths.stage_output("crops", "target")
    url = "/thumb/target/target_000001_0.jpg"
    before = client.get(url, headers={"Host": HOST})
    assert before.headers["Cache-Control"] == "no-cache" and before.headers["ETag"]
    assert client.get(url, headers={"Host": HOST, "If-None-Match": before.headers["ETag"]}).status_code == 304

    records = {record["key"]: record for record in read_index(crops)}
    records["target_000003_0"] = {**records["target_000002_0"], "frame": 3}
    jpegs = faces_jpegs(4)
    with ShardWriter(tmp_path / "new", "crops") as shards:  # another order: every member at another offset
        for key in sorted(jpegs, reverse=True):
            shards.add(key, {"jpg": jpegs[key]}, {k: v for k, v in records[key].items() if k not in ("key", "shard")})
    os.replace(tmp_path / "new/crops-00000.tar", crops / "crops-00000.tar")  # as atomic writes do: a new file
    assert client.get("/api/faces/target", headers={"Host": HOST}).json["total"] == 3  # the old index still
    for key, jpeg in jpegs.items():
        if key != "target_000003_0":
            assert client.get(f"/thumb/target/{key}.jpg", headers={"Host": HOST}).data == jpeg
    os.replace(tmp_path / "new/index.jsonl", crops / "index.jsonl")
    assert client.get("/api/faces/target", headers={"Host": HOST}).json["total"] == 4
    after = client.get(url, headers={"Host": HOST, "If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.data == jpegs["target_000001_0"]
    assert client.get("/thumb/target/target_000003_0.jpg", headers={"Host": HOST}).data == jpegs["target_000003_0"]


@pytest.mark.parametrize("port", ["0", "65536"])
def test_review_refuses_a_port_outside_1_to_65535(small_project, port):
    """Port 0 would bind a random port whose requests the Host check then refuses; 65536 is no port."""
    try:
        result = subprocess.run([sys.executable, "-m", "review", "--port", port], cwd=small_project, timeout=30,
                                env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"python -m review --port {port} started serving")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [f"error: --port {port}: give a port from 1 to 65535"]
    assert "Traceback" not in result.stderr


def test_review_server_starting_on_a_damaged_exclusion_list_says_so_in_one_line(small_project, tmp_path):
    """The server reads each side's faces in the background as it starts: a damaged list is one line in its
    terminal (the page answers it too), not a thread's traceback."""
    exclusion_file = small_project / paths.exclusions("target")
    exclusion_file.write_bytes(exclusion_file.read_bytes() + b"\xff\n")
    port = free_port()
    with serving([sys.executable, "-m", "review", "--port", str(port)], tmp_path / "review.log", port,
                 {**os.environ, "PYTHONPATH": str(REPO)}, up_statuses=(403,)):
        deadline = time.monotonic() + 30
        while "not UTF-8" not in (tmp_path / "review.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    printed = (tmp_path / "review.log").read_text()
    assert f"ERROR faceswap: review: {paths.exclusions('target')}: line" in printed and "not UTF-8 text" in printed
    assert "Traceback" not in printed


PROTECTED = ("/", "/static/review.js", "/api/faces/target", "/api/timeline", "/api/frame/target_000000",
             "/api/worth-labelling", "/thumb/target/target_000000_0.jpg", "/thumb/target/target_000099_0.jpg",
             "/frame/target_000000.jpg", "/still/target_000000.jpg")


def test_review_answers_only_a_browser_that_opened_the_url_the_server_printed(small_project):
    """Any website's page can make a browser GET the loopback port (an <img>, a script): without the launch's
    token it learns nothing (which keys exist) and costs nothing (TensorFlow loaded, every face decoded)."""
    client = create_app(PORT, TOKEN).test_client()
    for url in PROTECTED:
        refused = client.get(url, headers={"Host": HOST})
        assert refused.status_code == 403 and "open the URL" in refused.text, url
    assert client.get("/", headers={"Host": HOST}).content_type.startswith("text/plain")  # a person sees it
    exclusion_file = small_project / paths.exclusions("target")
    before = exclusion_file.read_text()
    assert post(client, "/api/exclusions/target", {"exclude": ["target_000000_0"]}).status_code == 403
    assert exclusion_file.read_text() == before
    wrong = client.get("/?token=guessed", headers={"Host": HOST})
    assert wrong.status_code == 403 and "Set-Cookie" not in wrong.headers
    client.set_cookie("review-token-9999", TOKEN, domain="127.0.0.1")  # another server's cookie, another port
    assert client.get("/api/timeline", headers={"Host": HOST}).status_code == 403

    opened = client.get(f"/api/faces/target?token={TOKEN}&sort=score", headers={"Host": HOST})
    assert opened.status_code == 302 and opened.headers["Location"] == "/api/faces/target?sort=score"
    cookie = opened.headers["Set-Cookie"]
    assert cookie.startswith(f"review-token-{PORT}={TOKEN};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    answers = {url: client.get(url, headers={"Host": HOST}).status_code for url in PROTECTED}
    assert answers == {**dict.fromkeys(PROTECTED, 200), "/thumb/target/target_000099_0.jpg": 404,
                       "/still/target_000000.jpg": 404, "/api/worth-labelling": 404}  # no such face; no model


def test_review_every_answer_forbids_framing(client):
    """Another page must not frame the review page and trick clicks into excluding faces."""
    stranger = create_app(PORT, TOKEN).test_client()
    answers = [client.get(url, headers={"Host": HOST}) for url in PROTECTED] + [
        stranger.get("/", headers={"Host": HOST}), client.get("/", headers={"Host": "attacker.example:8765"}),
        client.get("/api/faces/nobody", headers={"Host": HOST}), client.get("/no/such/page", headers={"Host": HOST})]
    for answer in answers:
        assert answer.headers["X-Frame-Options"] == "DENY", answer.request.path
        assert answer.headers["Content-Security-Policy"] == "frame-ancestors 'none'", answer.request.path


def test_review_refuses_a_body_over_2_mib_and_a_label_of_more_points_than_a_person_draws(client, small_project):
    big = post(client, "/api/exclusions/target", {"exclude": ["target_000000_0"] * 200_000})
    assert big.status_code == 413 and "2 MiB" in big.json["error"]
    circle = [[100 + 50 * np.cos(a), 100 + 50 * np.sin(a)] for a in np.linspace(0, 6.28, 400)]
    drawn = post(client, "/api/labels/target_000000", {"label": {"occluders": [circle] * 3}})
    assert drawn.status_code == 400 and "at most 1000 points" in drawn.json["error"]
    assert not (small_project / paths.MASK_LABELS).exists()
    assert (small_project / paths.exclusions("target")).read_text().count("target_000000_0") == 0


def test_review_api_answers_an_exclusion_list_that_is_not_utf8_with_its_line_not_a_500(small_project):
    exclusion_file = small_project / paths.exclusions("target")
    good = exclusion_file.read_bytes()
    exclusion_file.write_bytes(good + b"target_000001_0  # caf\xe9\n")
    line = len(good.splitlines()) + 1
    error = f"{paths.exclusions('target')}: line {line} is not UTF-8 text; save the file as UTF-8 or remove the line"
    client = opened_client()
    faces = client.get("/api/faces/target", headers={"Host": HOST})
    assert (faces.status_code, faces.json) == (400, {"error": error})

    exclusion_file.write_bytes(good)  # fixed, the page loads; then it turns bad again before an edit
    assert client.get("/api/faces/target", headers={"Host": HOST}).status_code == 200
    exclusion_file.write_bytes(good + b"\xff\n")
    done = post(client, "/api/exclusions/target", {"exclude": ["target_000000_0"]})
    assert (done.status_code, done.json) == (400, {"error": error})
    assert exclusion_file.read_bytes() == good + b"\xff\n"
