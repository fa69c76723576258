"""An attempt's training checkpoints in the DVC remote's bucket, so that the next launch of the attempt goes on.

``models/checkpoints/`` is pushed whole, as one tar object ``<attempt prefix>/checkpoints.tar``, and restored
whole: one object, so a reader never sees half of a push, and nothing here depends on the folder's inner layout
(the training stage owns it and picks the checkpoint that matches its params and faces).
"""

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

OBJECT = "checkpoints.tar"


class RemoteCheckpoints:
    def __init__(self, s3, bucket: str, prefix: str, folder: Path):
        self.s3, self.bucket, self.key, self.folder = s3, bucket, f"{prefix}/{OBJECT}", Path(folder)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def signature(self) -> tuple:
        """What the folder holds now (names, sizes, times): a push is worth making only when it has changed."""
        if not self.folder.is_dir():
            return ()
        return tuple(sorted((str(p.relative_to(self.folder)), p.stat().st_size, p.stat().st_mtime_ns)
                            for p in self.folder.rglob("*") if p.is_file()))

    def push(self) -> bool:
        """Upload the folder as it is now; False when it holds nothing yet. A file that training renames while
        the archive is written raises OSError: push again later."""
        if not self.signature():
            return False
        with tempfile.TemporaryDirectory() as scratch:
            archive = Path(scratch) / OBJECT
            with tarfile.open(archive, "w") as tar:
                tar.add(self.folder, arcname=".")
            self.s3.upload_file(str(archive), self.bucket, self.key)
        return True

    def restore(self) -> bool:
        """Replace the local folder with the pushed one; False when the attempt has none yet."""
        with tempfile.TemporaryDirectory() as scratch:
            archive = Path(scratch) / OBJECT
            try:
                self.s3.download_file(self.bucket, self.key, str(archive))
            except self.s3.exceptions.ClientError as error:
                if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
                    return False
                raise
            incoming = self.folder.with_name(f".{self.folder.name}.incoming")
            shutil.rmtree(incoming, ignore_errors=True)
            with tarfile.open(archive) as tar:
                tar.extractall(incoming, filter="data")
            shutil.rmtree(self.folder, ignore_errors=True)
            os.replace(incoming, self.folder)
        return True
