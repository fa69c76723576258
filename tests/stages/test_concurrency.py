"""Two runs of one stage script at once (the README shows the commands; a user may start one twice): one refuses
with an error line or both finish, and the output is the one a single run writes."""

import os
import subprocess
import sys

from tests.helpers import error_lines, run_stage


def output_files(root) -> dict[str, bytes]:
    folder = root / "data/frames"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_runs_at_once_do_not_interleave(project, media):
    raw = project / "data/raw/source"
    raw.mkdir(parents=True)
    (raw / "source.mp4").write_bytes((media / "pair/source.mp4").read_bytes())
    env = {**os.environ, "PYTHONPATH": str(project)}
    runs = [subprocess.Popen([sys.executable, "-m", "stages.frames", "--side", "source"], cwd=project, env=env,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(), run.stderr.read()) for run in runs]
    assert any(code == 0 for code, _ in results)
    for (code, stderr), other in zip(results, reversed(runs)):
        assert code == 0 or (code == 2 and error_lines(stderr) == [
            f"error: data/frames/source: another run is writing it (process {other.pid}); wait for it to end or "
            "stop it"]), stderr[-2000:]
    together = output_files(project)

    run_stage("frames", "--side", "source")  # alone
    assert output_files(project) == together
    assert not [p.name for p in (project / "data/frames").iterdir() if p.name.startswith(".")]  # no leftovers
