"""The review page as a person uses it, in headless Chromium, on a DVC repository of the trimmed sample target:
sort by identity distance, exclude two faces, see the exclusion list change and ``dvc status`` report
``filtered@target`` changed, restore one, see the page name the line of a list saved in another encoding; the
timeline shows every frame detected; a polygon drawn on a frame lands in the mask labels file; with a model, a
frame's before/after still and the frames worth labelling."""

import os
import re
import shutil
import sys

import pytest

from faceswap.core import paths
from faceswap.faces.mask_labels import read_mask_labels
from faceswap.faces.rules import read_exclusions
from faceswap.media.imageset import read_index
from tests.helpers import REPO, SCREENSHOTS, free_port, git_dvc_repo, model_project, run_stage, serving, sh, trim

pytestmark = pytest.mark.slow
SECONDS = 2.0  # of the sample target: 48 frames, each with the woman's face


@pytest.fixture(scope="module")
def repo(tmp_path_factory, media):
    """A git + DVC repository with the target's stages run up to alignments and everything committed, and no mask
    labels yet (the ones the project ships belong to the whole sample target)."""
    root = git_dvc_repo(tmp_path_factory.mktemp("review") / "repo")
    (root / paths.MASK_LABELS).unlink()
    trim(media / "pair/target.mp4", root / "data/raw/target/target.mp4", SECONDS)
    sh("dvc", "repro", "alignments@target", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "target extracted", cwd=root)
    return root


@pytest.fixture(scope="module")
def page(repo, tmp_path_factory):
    """The URL the server printed, with this launch's token: what a person opens (the server answers 403 to
    anything else, which says it is up)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = tmp_path_factory.mktemp("review-log") / "review.log"
    with serving([sys.executable, "-m", "review", "--port", str(port), "--project", str(repo)], log, port, env,
                 up_statuses=(403,)):
        yield re.search(rf"http://127\.0\.0\.1:{port}/\?token=\S+", log.read_text()).group()


def wait(browser, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 60, poll_frequency=0.3).until(lambda _: condition(), f"the review page: {what}")


def cards(browser):
    return browser.find_elements("css selector", "#grid .face")


def choose(browser, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", select_id)).select_by_value(value)


def test_review_page_opens_from_the_printed_url_alone_and_shows_every_thumbnail(page, browser):
    """The bare address is refused with a line of text; the printed URL leaves a cookie no script can read and
    an address bar without the token, and every thumbnail in view then loads."""
    bare = page.split("?")[0]
    browser.get(bare)
    assert "open the URL that `python -m review` printed" in browser.find_element("tag name", "body").text
    browser.get(page)
    assert browser.current_url == bare and browser.execute_script("return document.cookie") == ""
    wait(browser, lambda: cards(browser), "the faces")
    wait(browser, lambda: browser.execute_script(
        "const shown = [...document.querySelectorAll('#grid img')].filter((img) => {"
        " const box = img.getBoundingClientRect(); return box.bottom > 0 && box.top < innerHeight; });"
        " return shown.length > 0 && shown.every((img) => img.complete && img.naturalWidth > 0);"),
        "every thumbnail in view loaded")
    SCREENSHOTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / "review-token.png"))


def test_review_timeline_shows_the_sample_target_fully_detected(page, repo, browser):
    frames = len(read_index(repo / "data/frames/target"))
    browser.get(page)
    browser.find_element("id", "tab-timeline").click()
    summary = browser.find_element("id", "timeline-summary")
    wait(browser, lambda: summary.text, "the timeline summary")
    assert summary.text == f"{frames} frames: {frames} detected, 0 recovered, 0 missing, 0 excluded"
    assert browser.find_element("id", "missing-list").text == "No missing stretches."
    colours = browser.execute_script(
        "const c = document.getElementById('strip'); const d = c.getContext('2d').getImageData(0, 0, c.width, 18)"
        ".data; const seen = new Set(); for (let i = 0; i < d.length; i += 4) if (d[i + 3]) seen.add("
        "[d[i], d[i + 1], d[i + 2]].join()); return [...seen];")
    assert colours == ["63,163,77"]  # every painted cell the colour of "detected"


def test_review_sort_by_identity_exclude_two_see_dvc_status_then_restore_one(page, repo, browser):
    kept = read_index(repo / "data/filtered/target")
    browser.get(page)
    choose(browser, "sort", "identity")
    assert browser.find_element("id", "order").get_attribute("value") == "desc"  # the farthest first
    farthest = round(max(face["identity_distance"] for face in kept), 3)  # as the page shows it
    wait(browser, lambda: cards(browser) and f"identity {farthest}" in cards(browser)[0].text, "the farthest first")
    shown = [float(card.text.split("identity ")[1]) for card in cards(browser)]
    assert shown == sorted(shown, reverse=True) and len(shown) == len(kept)

    first, second = cards(browser)[:2]
    keys = [first.get_attribute("data-key"), second.get_attribute("data-key")]
    first.click()
    second.click()
    browser.find_element("id", "exclude").click()
    exclusions = repo / "data/exclude/target.txt"
    wait(browser, lambda: read_exclusions(exclusions) == set(keys), "two keys in the exclusion list")
    assert exclusions.read_text().splitlines()[0].startswith("# Keys of faces to drop")  # the comment is kept
    assert sh("git", "status", "--porcelain", cwd=repo).stdout.split() == ["M", "data/exclude/target.txt"]
    status = sh("dvc", "status", cwd=repo).stdout
    assert "filtered@target:" in status and "modified:           data/exclude/target.txt" in status
    wait(browser, lambda: [c.get_attribute("class").split()[1] for c in cards(browser)[:2]] == ["excluded"] * 2,
         "the two faces marked excluded")

    choose(browser, "filter", "excluded")
    wait(browser, lambda: len(cards(browser)) == 2, "the two excluded faces alone")
    cards(browser)[0].click()
    restored = cards(browser)[0].get_attribute("data-key")
    browser.find_element("id", "restore").click()
    wait(browser, lambda: read_exclusions(exclusions) == set(keys) - {restored}, "one key left in the list")
    wait(browser, lambda: len(cards(browser)) == 1, "one excluded face left")
    SCREENSHOTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / "review-faces.png"))

    good = exclusions.read_bytes()  # saved in another encoding while the page runs: the page says which line
    exclusions.write_bytes(good + "# généré\n".encode("latin-1"))
    try:
        cards(browser)[0].click()
        browser.find_element("id", "exclude").click()
        message = browser.find_element("id", "message")
        wait(browser, lambda: message.text == f"data/exclude/target.txt: line {len(good.splitlines()) + 1} is not "
             "UTF-8 text; save the file as UTF-8 or remove the line", "the exclusion list's error on the page")
    finally:
        exclusions.write_bytes(good)


def test_review_polygon_drawn_on_a_target_frame_is_saved_to_the_labels_file(page, repo, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.get(page)
    browser.find_element("id", "tab-timeline").click()
    strip = browser.find_element("id", "strip")
    wait(browser, lambda: browser.find_element("id", "timeline-summary").text, "the timeline")
    ActionChains(browser).move_to_element_with_offset(strip, 0, 0).click().perform()  # the middle frame
    info = browser.find_element("id", "frame-info")
    wait(browser, lambda: info.text.startswith("target_"), "the frame view")
    frame_key = info.text.split()[0]
    svg = browser.find_element("id", "frame-svg")
    wait(browser, lambda: browser.find_elements("css selector", "#frame-svg circle"), "the landmarks")
    assert len(browser.find_elements("css selector", "#frame-svg circle")) == 68
    for dx, dy in ((110, -20), (170, -40), (210, 10), (150, 40)):  # a hand over the face, in screen pixels
        ActionChains(browser).move_to_element_with_offset(svg, dx, dy).click().perform()
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    browser.find_element("id", "save-labels").click()
    labels_file = repo / paths.MASK_LABELS
    wait(browser, lambda: labels_file.exists(), "the labels file written")
    labels = read_mask_labels(labels_file)
    assert list(labels) == [frame_key]
    (polygon,) = labels[frame_key]["occluders"]
    assert len(polygon) == 4 and labels[frame_key]["face"] == []
    assert all(0 <= x <= 640 and 0 <= y <= 360 for x, y in polygon)
    wait(browser, lambda: "labelled" in info.text, "the frame marked labelled")
    assert len(browser.find_elements("css selector", "#frame-svg polygon.occluders")) == 1
    assert browser.save_screenshot(str(SCREENSHOTS / "review-mask.png"))


def test_review_before_after_still_and_frames_worth_labelling_with_a_model(page, repo, browser, tmp_path,
                                                                          aligned_faces):
    """With a model (trained for 2 steps on other faces: the still's shape is checked, not its quality)."""
    trained = model_project(tmp_path / "model", aligned_faces, steps=2, batch_size=2, log_every=1, preview_every=2,
                            checkpoint_every=2)
    run_stage("model", cwd=trained)
    (repo / "models").mkdir(exist_ok=True)
    shutil.copy(trained / "models/faceswap.keras", repo / "models/faceswap.keras")

    browser.get(page)
    browser.find_element("id", "tab-timeline").click()
    browser.find_element("id", "worth-labelling").click()
    wait(browser, lambda: browser.find_elements("css selector", "#worth-list button.worth"), "frames worth labelling")
    worst = browser.find_elements("css selector", "#worth-list button.worth")
    assert len(worst) == 20
    errors = [float(button.text.split("error ")[1].rstrip(")")) for button in worst]
    assert errors == sorted(errors, reverse=True) and errors[0] > 0
    worst[0].click()
    info = browser.find_element("id", "frame-info")
    wait(browser, lambda: info.text.startswith(worst[0].text.split()[0]), "the worst frame opened")
    browser.find_element("id", "show-still").click()
    still = browser.find_element("id", "still")
    wait(browser, lambda: browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", still),
         "the before/after still")
    assert browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", still) == [
        2 * 640, 360]  # the target frame, then its swap
    assert not list(repo.glob("data/output/*"))  # no video encoded
    browser.execute_script("arguments[0].scrollIntoView()", still)
    assert browser.save_screenshot(str(SCREENSHOTS / "review-still.png"))
