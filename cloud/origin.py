"""The git and DVC side of a cloud training attempt: the pushed commit, the DVC S3 remote, the training stage.

The instance clones the git remote and checks out the exact commit, so launching refuses a commit that exists
only here; it pulls from and pushes to the same DVC remote as this working tree, so that is read from DVC's
own config (repository and ``.dvc/config.local`` merged), never guessed.
"""

from dataclasses import dataclass

from faceswap.core.cli import UserError
from faceswap.core.git import git
from faceswap.core.paths import PIPELINE_FILES

TRAIN_STAGE = "model"
# what the instance runs: it must be committed and pushed
PROJECT_FILES = (*PIPELINE_FILES, "dvc.lock", "requirements-gpu.txt")


def pushed_commit() -> str:
    """HEAD, if the files the instance runs are committed and the commit is on a remote-tracking branch."""
    commit = git("rev-parse", "HEAD")
    changed = [line.split(None, 1)[1] for line in git("status", "--porcelain", "--", *PROJECT_FILES).splitlines()]
    if changed:
        raise UserError(f"{', '.join(changed)}: not committed, so the instance would not see it; commit, git push")
    if not git("branch", "--remotes", "--contains", commit):
        raise UserError(f"commit {commit[:12]} is not on any remote branch; git push it first, "
                        "since the instance checks it out from the git remote")
    return commit


def git_url(remote: str) -> str:
    url = git("remote", "get-url", remote)
    if url.startswith("git@") or url.startswith("ssh://"):
        raise UserError(f"git remote '{remote}' is {url}, an SSH URL; the instance has no SSH key: "
                        "pass --git-url with an https:// URL it can clone")
    return url


@dataclass(frozen=True)
class DvcRemote:
    """The S3 remote DVC pushes to: its name, URL and, for an S3-compatible store, endpoint. No credentials."""

    name: str
    url: str
    endpoint_url: str | None
    profile: str | None

    @property
    def bucket(self) -> str:
        return self.url.removeprefix("s3://").split("/", 1)[0]

    def key(self, *parts: str) -> str:
        """The object key of ``parts`` under the remote's URL: ``s3://b/store`` + ``a/x`` -> ``store/a/x``."""
        prefix = self.url.removeprefix("s3://").partition("/")[2].strip("/")
        return "/".join(p for p in (prefix, *parts) if p)


def dvc_repo():
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        return Repo(".")
    except NotDvcRepoError:
        raise UserError("not inside a DVC repository; run this from the project's root") from None


def dvc_remote(repo) -> DvcRemote:
    """The default DVC remote, which must be on S3."""
    config = repo.config
    name = config["core"].get("remote")
    if not name or name not in config["remote"]:
        raise UserError("no DVC remote configured; run `dvc remote add -d storage s3://BUCKET/PATH` "
                        "(the instance pulls the faces from it and pushes the model to it)")
    settings = config["remote"][name]
    if not settings["url"].startswith("s3://"):
        raise UserError(f"DVC remote '{name}' is {settings['url']}; training on EC2 needs an s3:// remote")
    return DvcRemote(name, settings["url"].rstrip("/"), settings.get("endpointurl"), settings.get("profile"))


def train_stage(repo):
    (stage,) = repo.stage.collect(TRAIN_STAGE)
    return stage


def pull_targets(repo) -> list[str]:
    """The stages whose outputs the training stage reads: all the instance pulls (e.g. ``alignments@target``)."""
    return sorted(upstream.addressing for upstream in repo.index.graph.successors(train_stage(repo)))


def uncached_outs(repo) -> list[str]:
    """The training stage's outputs that DVC does not push (metrics, plots): the instance uploads them itself."""
    return [out.def_path for out in train_stage(repo).outs if not out.use_cache]


def ignore_cached_outs(repo) -> None:
    """Add the training stage's DVC-cached outputs to .gitignore, as running the stage here would have done."""
    for out in train_stage(repo).outs:
        if out.use_cache:
            out.ignore()
