"""Every face of a side as columns (numpy arrays, one entry per face of the crops index), so that sorting,
filtering and paging 10^5 faces is a few vectorised operations per request, never a pass over Python records.

A face's status is what the user would see after the next ``dvc repro``: ``excluded`` while its key is in
``data/exclude/<side>.txt``; ``kept`` if ``filtered`` kept it; ``restored`` if it was excluded when ``filtered``
last ran or the page started and is no longer (``filtered`` must run again); else the rule that removed it, as
``filtered`` wrote it in its verdicts (``measured``: a face ``filtered`` has not judged yet that passes the
screening rules). Measurements come from the stages
that made them: score and box from ``crops``, identity distance and sharpness from ``filtered`` (kept
faces only), yaw from the 68 landmarks of ``alignments``; a face a stage did not measure sorts last.
"""

import threading
from fractions import Fraction

import numpy as np

from faceswap.core import params, paths
from faceswap.faces.pose import YAW_POINTS, yaw_of_points
from faceswap.faces.rules import RULES, SCREENING, VERDICTS, Context, first_rule, read_exclusions, read_verdicts
from faceswap.media.imageset import INDEX
from faceswap.media.index_columns import read_columns
from faceswap.media.video import read_catalogue
from review import exclusions

STATUSES = ("kept", "excluded", "restored", *(rule.name for rule in RULES if rule.name != "excluded"), "measured")
SORTS = ("time", "identity", "sharpness", "score", "size", "yaw")
FILTERS = ("all", "removed", *STATUSES)


class Catalogue:
    """The faces of one side, their measurements and their status; exclusions edited through it."""

    def __init__(self, side: str):
        self.side = side
        self.exclusion_file = paths.exclusions(side)
        self.excluded = read_exclusions(self.exclusion_file)
        self._lock = threading.Lock()
        self._load_crops()
        self.index_of = {key: i for i, key in enumerate(self.keys)}
        self._base_status = self._verdicts(params.load("filtered"))
        self._load_measurements()
        self._orders: dict[str, np.ndarray] = {}
        self.status = self._base_status.copy()
        excluded_before = {self.keys[i] for i in np.flatnonzero(self._base_status == STATUSES.index("excluded"))}
        self._apply(self.excluded | excluded_before, self.excluded)
        self.yaw = np.full(len(self.keys), np.nan, np.float32)
        self._yaw_loader = threading.Thread(target=self._load_yaw, daemon=True)  # the page need not wait for it
        self._yaw_loader.start()

    def _load_crops(self) -> None:
        crops = paths.stage_output("crops", self.side)
        rates = {name: float(Fraction(video["sample_rate"])) for name, video in read_catalogue(crops).items()}
        faces = read_columns(crops, ("key", "shard", "video", "frame", "box", "score"))
        self.keys = faces["key"] or []
        self.shard_of = dict(zip(self.keys, faces["shard"] or []))
        if not self.keys:
            faces.update(video=[], frame=np.zeros(0), box=np.zeros((0, 4)), score=np.zeros(0))
        self.time = faces["frame"] / np.asarray([rates[video] for video in faces["video"]], np.float64)
        self.score = faces["score"].astype(np.float32)
        self.box = faces["box"]
        self.size = faces["box"][:, 2:].min(axis=1).astype(np.float32)

    def _verdicts(self, p) -> np.ndarray:
        """Each face's status before this page's edits: what filtered wrote of it (kept, or the rule that removed
        it). A face filtered has not judged (the page opened before it ran, or after crops ran again) gets the
        screening rules' verdict, or "measured" if it passes them."""
        status = np.full(len(self.keys), -1, np.int8)
        verdicts = paths.stage_output("filtered", self.side) / paths.VERDICTS_FILE
        if verdicts.exists():
            keys, codes = read_verdicts(verdicts)
            positions, known = self._positions(keys)
            status[positions] = np.asarray([STATUSES.index(name) for name in VERDICTS], np.int8)[codes[known]]
        screening = Context(p, self.excluded)
        for i in np.flatnonzero(status < 0).tolist():
            rule = first_rule(SCREENING, {"key": self.keys[i], "box": self.box[i].tolist(), "score": self.score[i]},
                              self.side, screening)
            status[i] = STATUSES.index(rule or "measured")
        return status

    def _positions(self, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Where each of ``keys`` sits among the faces, and which of ``keys`` are faces at all."""
        found = [self.index_of.get(key, -1) for key in keys]
        positions = np.asarray(found, np.int64)
        return positions[positions >= 0], positions >= 0

    def _load_measurements(self) -> None:
        count = len(self.keys)
        self.identity = np.full(count, np.nan, np.float32)
        self.sharpness = np.full(count, np.nan, np.float32)
        filtered = paths.stage_output("filtered", self.side)
        faces = {"key": None}  # no filtered set yet: nothing kept
        if (filtered / INDEX).exists():
            faces = read_columns(filtered, ("key", "identity_distance", "sharpness"))
        if faces["key"]:
            positions, known = self._positions(faces["key"])
            for column, name in ((self.identity, "identity_distance"), (self.sharpness, "sharpness")):
                if faces[name] is not None:
                    column[positions] = faces[name][known]

    def _load_yaw(self) -> None:
        """Yaw of the aligned faces, from their 68 points: the slowest column to read (its index is mostly
        points), so it is read in the background and a yaw sort waits for it."""
        aligned = paths.stage_output("alignments", self.side)
        if not (aligned / INDEX).exists():
            return
        faces = read_columns(aligned, ("key", "landmarks_68"))
        if faces["key"] and faces["landmarks_68"] is not None:
            positions, known = self._positions(faces["key"])
            self.yaw[positions] = yaw_of_points(faces["landmarks_68"][known][:, list(YAW_POINTS)])

    def _apply(self, keys, excluded_now: set[str]) -> None:
        """Recompute the status of ``keys`` from the exclusion list ``excluded_now``."""
        for key in keys:
            i = self.index_of.get(key)
            if i is None:
                continue
            if key in excluded_now:
                self.status[i] = STATUSES.index("excluded")
            elif self._base_status[i] == STATUSES.index("excluded"):
                self.status[i] = STATUSES.index("restored")
            else:
                self.status[i] = self._base_status[i]

    def stale_keys(self) -> list[str]:
        """Keys in the exclusion list that match no face of the crops (a typo, or faces since re-detected)."""
        return sorted(key for key in self.excluded if key not in self.index_of)

    def counts(self) -> dict[str, int]:
        found = np.bincount(self.status, minlength=len(STATUSES))
        return {status: int(found[i]) for i, status in enumerate(STATUSES)}

    def _order(self, sort: str) -> np.ndarray:
        """Face positions in ascending order of a column, the unmeasured (NaN) last; cached, columns never change."""
        if sort not in self._orders:
            self._orders[sort] = np.argsort(self._column(sort), kind="stable")  # NaN sorts last
        return self._orders[sort]

    def page(self, sort: str, descending: bool, status_filter: str, page: int, per_page: int) -> dict:
        """One page of faces in the asked order and filter, with the total and each face's fields."""
        order = self._order(sort)
        if descending:
            measured = int(np.count_nonzero(~np.isnan(self._column(sort))))
            order = np.concatenate([order[:measured][::-1], order[measured:]])
        with self._lock:
            status = self.status.copy()
        if status_filter == "removed":
            wanted = status > STATUSES.index("restored")
        elif status_filter != "all":
            wanted = status == STATUSES.index(status_filter)
        else:
            wanted = np.ones(len(status), bool)
        order = order[wanted[order]]
        chosen = order[page * per_page:(page + 1) * per_page]
        return {"total": int(len(order)), "page": page, "per_page": per_page,
                "faces": [self.face(int(i), status) for i in chosen]}

    def _column(self, sort: str) -> np.ndarray:
        """The column a sort reads; yaw by its size (frontal first), whichever way the head turns."""
        if sort == "yaw":
            self._yaw_loader.join()
        return {"time": self.time, "identity": self.identity, "sharpness": self.sharpness, "score": self.score,
                "size": self.size, "yaw": np.abs(self.yaw)}[sort]

    def face(self, i: int, status: np.ndarray) -> dict:
        """What the page shows of face ``i``, with its status from ``status`` (a snapshot of the column)."""
        def number(value, digits):
            return None if np.isnan(value) else round(float(value), digits)

        return {"key": self.keys[i], "status": STATUSES[status[i]], "time": round(float(self.time[i]), 3),
                "score": number(self.score[i], 3), "size": number(self.size[i], 1),
                "identity": number(self.identity[i], 3), "sharpness": number(self.sharpness[i], 1),
                "yaw": number(self.yaw[i], 1)}

    def change(self, exclude: list[str], restore: list[str]) -> dict:
        """Exclude and restore faces by key, writing the exclusion list atomically; unknown keys are refused
        (stale keys of the list may be restored: that removes them from it)."""
        unknown = [key for key in exclude if key not in self.index_of]
        unknown += [key for key in restore if key not in self.index_of and key not in self.excluded]
        if unknown:
            raise KeyError(f"no face {unknown[0]!r} on side {self.side}")
        with self._lock:
            self.excluded = exclusions.edit(self.exclusion_file, exclude, restore)
            self._apply(set(exclude) | set(restore), self.excluded)
        return {"excluded": len(self.excluded), "counts": self.counts(), "stale": self.stale_keys()}
