"""Two training attempts side by side in the MLflow UI, as a person sees it: an ``mlflow server`` on loopback,
the model stage run twice against it with different params, the UI opened in headless Chromium."""

import time

import pytest

from faceswap.train.loop import PREVIEW_TILE
from tests.helpers import SCREENSHOTS, model_project, run_stage

pytestmark = pytest.mark.slow
SCREENSHOT = SCREENSHOTS / "mlflow-two-attempts.png"
PREVIEW_WIDTH = 3 * PREVIEW_TILE  # a face, its reconstruction, its swap, the 64 px faces enlarged to 128
# The chart card shows MLflow's thumbnail (at most 256 px a side) of the grid's 2 + 2 rows; a click shows it whole
THUMBNAIL_WIDTH = PREVIEW_WIDTH * 256 // (4 * PREVIEW_TILE)
FULL_SIZE = SCREENSHOTS / "mlflow-preview-full-size.png"


def wait_until(condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"the MLflow UI did not show {what} within {seconds} s")


def test_two_attempts_stand_side_by_side_with_curves_and_previews(tmp_path, aligned_faces, mlflow_server, browser,
                                                                  monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    for name, learning_rate in (("first", 5e-4), ("second", 2e-3)):
        project = model_project(tmp_path / name, aligned_faces, steps=4, batch_size=2, log_every=2,
                                preview_every=2, checkpoint_every=4, learning_rate=learning_rate)
        run_stage("model", cwd=project)
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("faceswap")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.data.params["model.learning_rate"] for run in runs) == ["0.0005", "0.002"]
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert len({run.info.run_name for run in runs}) == 2

    browser.get(f"{mlflow_server}/#/experiments/{experiment.experiment_id}/runs?compareRunsMode=CHART")

    def page_text():
        return browser.find_element("tag name", "body").text

    wait_until(lambda: all(run.info.run_name in page_text() for run in runs), "both runs")
    wait_until(lambda: "loss_target" in page_text() and "loss_source" in page_text(), "the loss charts")
    for close in browser.find_elements("css selector", "button[aria-label=Close]"):  # the assistant's side panel
        close.click()
    legends = [f"{run.info.run_name} (loss_target)" for run in runs]
    wait_until(lambda: all(legend in page_text() for legend in legends), "both runs' loss_target curves")
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element("xpath", "//*[text()='preview']"))

    def shown(width):
        widths = browser.execute_script("return Array.from(document.images).filter(i => i.complete)"
                                        ".map(i => i.naturalWidth)")
        return widths.count(width)

    wait_until(lambda: shown(THUMBNAIL_WIDTH) >= len(runs), "a preview image of each run")
    thumbnail = browser.execute_script("return Array.from(document.images).find(i => i.naturalWidth === arguments[0])",
                                       THUMBNAIL_WIDTH)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", thumbnail)  # params come first
    time.sleep(1)  # let the charts finish drawing before the picture is taken
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    print(f"screenshot: {SCREENSHOT}")
    thumbnail.click()  # the preview whole, its faces at 128 px
    wait_until(lambda: shown(PREVIEW_WIDTH) >= 1, "the preview at full size")
    time.sleep(1)
    assert browser.save_screenshot(str(FULL_SIZE))
