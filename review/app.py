"""The review page's web application (Flask): the page, its JSON API and the images streamed from the shards.

Safe by default: only requests addressed to this server on loopback are answered (a foreign ``Host`` is refused,
which stops DNS rebinding; a foreign ``Origin`` is refused, which stops other sites' pages from posting); only a
browser that opened the URL the server printed, with this launch's token, is answered at all (any site's page can
make a browser GET a loopback port, with an ``<img>`` say: it must learn nothing, nor make the server decode
every face); no other page may frame this one (to trick clicks); changes come as JSON only (no form a foreign
page could submit without a preflight) and small; every key from the browser is checked against the faces and
frames of the stage outputs before it reaches a file, and only the exclusion lists and the mask labels file are
ever written.
"""

import secrets
import threading
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, abort, jsonify, make_response, redirect, request, send_from_directory

from faceswap.core import paths
from faceswap.core.cli import UserError, log
from faceswap.core.paths import SIDES
from faceswap.faces.mask_labels import check_frame, read_mask_labels, write_mask_labels
from faceswap.media.imageset import INDEX
from faceswap.media.shard_reader import ShardReader, file_version
from review.catalogue import FILTERS, SORTS, Catalogue
from review.timeline import Timeline

STATIC = Path(__file__).parent / "static"
MAX_PER_PAGE = 500
MAX_BODY = 2 * 2**20  # bytes of a request: a page of exclusions or a frame's polygons is far less
NOT_FRAMED = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
ALIGNMENTS = paths.stage_output("alignments", "target") / paths.ALIGNMENTS_FILE


class Outputs:
    """The stage outputs the page reads, each loaded on first use and kept until a file it was read from changes
    (``dvc repro`` while the page runs): then it is read again."""

    def __init__(self):
        self._lock = threading.RLock()  # a reader is made from its side's catalogue, both under the lock
        self._loaded: dict = {}
        self.labels_lock = threading.Lock()

    def _get(self, name: str, make, *sources: Path):
        """``make()``, made again when any of ``sources``, the files it reads, has changed since."""
        version = [file_version(source) for source in sources]
        with self._lock:
            known = self._loaded.get(name)
            if known is None or known[0] != version:
                known = self._loaded[name] = (version, make())
            return known[1]

    def catalogue(self, side: str) -> Catalogue:
        if side not in SIDES:
            abort(404, f"no side {side!r}; give target or source")
        if not (paths.stage_output("crops", side) / INDEX).exists():
            abort(404, f"{paths.stage_output('crops', side)}: not found; run `dvc repro filtered@{side}` first")
        return self._get(f"catalogue-{side}", lambda: Catalogue(side), *self._indexes(side, "crops", "filtered"))

    def crops(self, side: str) -> ShardReader:
        self.catalogue(side)
        return self._get(f"crops-{side}", lambda: ShardReader(paths.stage_output("crops", side),
                                                              self.catalogue(side).shard_of),
                         *self._indexes(side, "crops"))

    @staticmethod
    def _indexes(side: str, *stages: str) -> list[Path]:
        return [paths.stage_output(stage, side) / INDEX for stage in stages]

    def warm(self) -> None:
        """Read what the page will ask for first (each side's faces, the shards' member offsets) in the
        background, so that a feature film's first page is there when the browser asks."""
        def load():
            sides = [side for side in SIDES if (paths.stage_output("crops", side) / INDEX).exists()]
            try:
                for side in sides:
                    self.catalogue(side)
                for side in sides:
                    self.crops(side).index_all()
            except UserError as error:  # the page answers it too, when asked; here one line, not a traceback
                log.error("review: %s", error)
        threading.Thread(target=load, daemon=True).start()

    def model_views(self):
        if not paths.MODEL_FILE.exists():
            abort(404, f"no trained model ({paths.MODEL_FILE}); run `dvc repro model` or `dvc pull model` first")
        self.timeline()  # the target's alignments, which the swap needs too

        def load():
            from review.swap import ModelViews  # Keras and TensorFlow: loaded only when a still is asked for
            return ModelViews()
        return self._get("model", load, paths.MODEL_FILE, ALIGNMENTS)

    def frames(self) -> ShardReader:
        return self._get("frames", lambda: ShardReader(paths.stage_output("frames", "target")),
                         *self._indexes("target", "frames"))

    def timeline(self) -> Timeline:
        if not ALIGNMENTS.exists():
            abort(404, "no target alignments yet; run `dvc repro alignments@target` first")
        return self._get("timeline", Timeline, ALIGNMENTS, paths.timeline("target"))


def guard(port: int, token: str):
    """Refuse a request whose Host or Origin is not this server on loopback, or that lacks this launch's token.

    The token comes once, in the URL the server printed (``?token=``): that request gets it back as a cookie and
    is sent on to the same URL without it, so that it stays out of the history. The cookie is ``HttpOnly`` (no
    script reads it) and ``SameSite=Strict`` (no other site's page sends it); one name a port, since cookies are
    shared by every port of a host."""
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    origins = {f"http://{host}" for host in hosts}
    cookie = f"review-token-{port}"

    def check():
        if request.host not in hosts:
            abort(403, "foreign Host refused")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in origins:
            abort(403, "foreign Origin refused")
        given = request.args.get("token")
        if given is None and is_token(request.cookies.get(cookie), token):
            return None
        if given is None or not is_token(given, token):
            return refuse_without_token(port)
        rest = [(name, value) for name, value in request.args.items(multi=True) if name != "token"]
        opened = redirect(request.path + (f"?{urlencode(rest)}" if rest else ""))
        opened.set_cookie(cookie, token, httponly=True, samesite="Strict")
        return opened
    return check


def is_token(given: str | None, token: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), token.encode())  # in constant time


def refuse_without_token(port: int):
    """403 for a request without the launch's token: a line of text for a person opening the page, JSON for the
    page's scripts, saying the same."""
    message = (f"the review page needs this launch's token: open the URL that `python -m review` printed when it "
               f"started (http://127.0.0.1:{port}/?token=...)")
    if request.path == "/":
        return Response(message + "\n", 403, mimetype="text/plain")
    return jsonify(error=message), 403


def json_body() -> dict:
    body = request.get_json(silent=True)  # None unless Content-Type is application/json
    if not isinstance(body, dict):
        abort(400, "send a JSON object with Content-Type application/json")
    return body


def revalidated_jpeg(data: bytes):
    """An image of a stage output, which the browser asks again for before showing its copy (``no-cache``): a
    ``dvc repro`` may have changed the image of a key. Its ETag saves sending it again if it did not."""
    response = make_response(data)
    response.headers.update({"Content-Type": "image/jpeg", "Cache-Control": "no-cache"})
    response.add_etag()
    return response.make_conditional(request)


def choice(name: str, allowed, default: str) -> str:
    value = request.args.get(name, default)
    if value not in allowed:
        abort(400, f"{name} must be one of {', '.join(allowed)}")
    return value


def create_app(port: int, token: str, warm: bool = False) -> Flask:
    """The application for a server on 127.0.0.1:``port`` that answers the browser which opened
    ``/?token=<token>``; ``warm``: start reading the stage outputs now."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.before_request(guard(port, token))
    app.after_request(lambda response: response.headers.update(NOT_FRAMED) or response)
    outputs = Outputs()
    if warm:
        outputs.warm()
    add_face_routes(app, outputs)
    add_frame_routes(app, outputs)
    add_model_routes(app, outputs)

    @app.get("/")
    def page():
        return send_from_directory(STATIC, "index.html")

    @app.get("/static/<name>")
    def static_file(name):
        return send_from_directory(STATIC, name)  # safe_join: nothing outside the folder

    @app.errorhandler(UserError)
    def user_error(error):
        return jsonify(error=str(error)), 400

    @app.errorhandler(413)
    def too_large(error):
        return jsonify(error=f"a request of at most {MAX_BODY // 2**20} MiB, please"), 413

    for code in (400, 403, 404):
        app.register_error_handler(code, lambda error: (jsonify(error=error.description), error.code))
    return app


def add_face_routes(app: Flask, outputs: Outputs) -> None:
    @app.get("/api/faces/<side>")
    def faces(side):
        catalogue = outputs.catalogue(side)
        try:
            page, per_page = int(request.args.get("page", 0)), int(request.args.get("per_page", 100))
        except ValueError:
            abort(400, "page and per_page are whole numbers")
        if page < 0 or not 1 <= per_page <= MAX_PER_PAGE:
            abort(400, f"page from 0, per_page from 1 to {MAX_PER_PAGE}")
        result = catalogue.page(choice("sort", SORTS, "time"), choice("order", ("asc", "desc"), "asc") == "desc",
                                choice("filter", FILTERS, "all"), page, per_page)
        return jsonify({**result, "counts": catalogue.counts(), "stale": catalogue.stale_keys()})

    @app.post("/api/exclusions/<side>")
    def exclusions(side):
        catalogue, body = outputs.catalogue(side), json_body()
        exclude, restore = body.get("exclude", []), body.get("restore", [])
        if not all(isinstance(keys, list) and all(isinstance(k, str) for k in keys) for keys in (exclude, restore)):
            abort(400, "exclude and restore are lists of face keys")
        try:
            return jsonify(catalogue.change(exclude, restore))
        except KeyError as error:
            abort(404, error.args[0])

    @app.get("/thumb/<side>/<key>.jpg")
    def thumbnail(side, key):
        try:
            data = outputs.crops(side).read(key)
        except KeyError:
            abort(404, f"no face {key!r}")
        return revalidated_jpeg(data)


def add_frame_routes(app: Flask, outputs: Outputs) -> None:
    def excluded() -> set[str]:
        return outputs.catalogue("target").excluded

    @app.get("/api/timeline")
    def timeline():
        return jsonify(outputs.timeline().summary(excluded()))

    @app.get("/api/frame/<key>")
    def frame(key):
        target_frame(outputs, key)
        labels = read_mask_labels(paths.MASK_LABELS).get(key)
        return jsonify({**outputs.timeline().frame(key, excluded()), "labels": labels})

    @app.get("/frame/<key>.jpg")
    def frame_image(key):
        try:
            data = outputs.frames().read(key)
        except KeyError:
            abort(404, f"no target frame {key!r}")
        return revalidated_jpeg(data)

    @app.post("/api/labels/<key>")
    def labels(key):
        target_frame(outputs, key)
        label = json_body().get("label")
        with outputs.labels_lock:
            frames = read_mask_labels(paths.MASK_LABELS)
            if label is None:
                frames.pop(key, None)
            else:
                frames[key] = check_frame(key, label, "labels sent by the page")
            write_mask_labels(paths.MASK_LABELS, frames)
        return jsonify(labelled=len(frames), label=frames.get(key))


def add_model_routes(app: Flask, outputs: Outputs) -> None:
    @app.get("/still/<key>.jpg")
    def still(key):
        index = target_frame(outputs, key)
        jpeg = outputs.model_views().still(outputs.frames().read(key), index)
        return jpeg, 200, {"Content-Type": "image/jpeg"}

    @app.get("/api/worth-labelling")
    def worth_labelling():
        return jsonify(frames=outputs.model_views().worth_labelling(20))


def target_frame(outputs: Outputs, key: str) -> int:
    """The frame number of a target frame key; a key that names no frame of the alignments is a 404."""
    position = outputs.timeline().position.get(key)
    if position is None:
        abort(404, f"no target frame {key!r}")
    return position[1]
