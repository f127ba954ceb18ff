"""tintcam's HTTP routes. Views parse the request, call one function in chalicelib and build the
response; tintcam's errors become JSON answers in ``api_view`` only, and Chalice's own error answers are
given the same shape in ``uniform_answers``."""
from __future__ import annotations

import functools
import json

from chalice import Chalice, Response

from chalicelib import __version__, answers, cors, faces, imaging, metering, openapi, options, pipeline, settings
from chalicelib.errors import ModelUnavailable, TintcamError, UnsupportedMediaType

app = Chalice(app_name="tintcam")
# Settings are validated once at start-up: a bad TINTCAM_* value stops the function with its name.
app.log.setLevel(settings.get().log_level.upper())
log = app.log

# Chalice answers other body types with its own 415 before the view runs; `uniform_answers` rewrites that
# (and Chalice's other built-in errors) into tintcam's error format. All types here must be binary.
IMAGE_BODY = ["image/jpeg", "image/png"]
# Answers of these types go out as binary bodies (base64 to API Gateway, which decodes them); the deploy
# gives the REST API the app's binary types.
app.api.binary_types.extend(f.media_type for f in answers.FORMATS.values()
                            if f.media_type not in app.api.binary_types)


def get_settings() -> settings.Settings:
    return settings.get()


def get_meter() -> metering.Meter:
    return metering.get_meter(get_settings())


def json_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=json.dumps(body), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def error_response(err: TintcamError) -> Response:
    return json_response(err.body(), err.status, err.headers)


def api_view(view):
    """Turn tintcam errors (and anything unexpected) into JSON answers: the one place that does."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except TintcamError as err:
            log.info("refused %s: %s %s", app.current_request.path if app.current_request else "?",
                     err.status, err.code)
            return error_response(err)
        except Exception:  # noqa: BLE001 - never let a client see a stack trace
            log.exception("unexpected error")
            return json_response({"code": "internal_error", "message": "an unexpected error occurred"}, 500)
    return wrapper


@app.middleware("http")
def uniform_answers(request, get_response):
    """Every answer gets CORS headers for allowed site origins, and Chalice's own error answers (a body
    type the route does not take, an unknown method, an event Chalice cannot read) are given tintcam's error
    format."""
    headers = request.headers if request is not None else {}   # None: an event of a shape Chalice cannot read
    response = get_response(request)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        if response.status_code == 415:
            given = imaging.media_type(headers.get("content-type")) or "no Content-Type"
            response = error_response(UnsupportedMediaType(
                f"Content-Type {given[:60]!r} is not accepted; send image/jpeg or image/png"))
        else:
            code = {405: "method_not_allowed", 400: "bad_request", 404: "not_found"}.get(
                response.status_code, "internal_error")
            response = json_response({"code": code, "message": str(body.get("Message", ""))[:300]},
                                     response.status_code, {k: v for k, v in response.headers.items()
                                                            if k.lower() == "allow"})
    response.headers.update(cors.headers_for(headers.get("origin"), get_settings()))
    return response


@app.route("/v1/tint", methods=["OPTIONS"])
@app.route("/v1/landmarks", methods=["OPTIONS"])
@app.route("/v1/usage", methods=["OPTIONS"])
def preflight():
    """CORS preflight for the camera site (no key needed: browsers send none here)."""
    origin = app.current_request.headers.get("origin")
    headers = cors.headers_for(origin, get_settings(), preflight=True)
    return Response(body="", status_code=403 if origin and not headers else 204, headers=headers)


def _caller():
    request = app.current_request
    return get_meter().authenticate(metering.presented_key(request.headers, request.context))


TRACK_HEADER = "x-track-state"


def _metered_frame(route: str, process, allowed: tuple[str, ...]):
    """Authenticate, check the quota, then parse and process the frame as one metered request (so a
    client error is recorded, not charged): shared by the frame routes. ``process(body, content_type,
    options, settings)`` returns the pipeline's FrameResult, whose body is what is sent (and metered)."""
    request = app.current_request
    caller = _caller()
    body = request.raw_body or b""

    def work():
        opts = options.parse(request.query_params, get_settings(), allowed=allowed)
        return process(body, request.headers.get("content-type"), opts, get_settings())

    result, metered = get_meter().run(caller, request.headers.get(metering.IDEMPOTENCY_HEADER), route,
                                      len(body), work)  # the meter writes the frame's log line
    return result, {
        "X-Faces": str(len(result.faces)),
        "X-Processing-Ms": f"{result.processing_ms:.1f}",
        "X-Quota-Remaining": str(metered.quota_remaining),
    }


def _tint(body, content_type, opts, config) -> pipeline.FrameResult:
    """The tint route's processing: the answer format from `answer` and the first Accept value (406 when
    they disagree), faces followed with the previous frame's X-Track-State."""
    headers = app.current_request.headers
    answer = answers.negotiate(opts.answer, headers.get("accept"))
    return pipeline.tint_frame(body, content_type, opts, config, track_state=headers.get(TRACK_HEADER),
                               answer=answer)


@app.route("/v1/tint", methods=["POST"], content_types=IMAGE_BODY, api_key_required=True)
@api_view
def tint():
    result, headers = _metered_frame("/v1/tint", _tint, options.ALLOWED)
    headers.update({"X-Face-Boxes": result.boxes_header(), "X-Track-State": result.track_state, **result.headers})
    if not result.body:  # 204: a patch answer with nothing tinted (no body, no type)
        return Response(body="", status_code=result.status, headers=headers)
    return Response(body=result.body, status_code=result.status, headers={"Content-Type": result.media_type,
                                                                          **headers})


@app.route("/v1/landmarks", methods=["POST"], content_types=IMAGE_BODY, api_key_required=True)
@api_view
def landmarks():
    result, headers = _metered_frame("/v1/landmarks", pipeline.landmarks_frame, ("min_face",))
    return Response(body=result.body.decode(), status_code=200,
                    headers={"Content-Type": "application/json", **headers})


@app.route("/v1/usage", methods=["GET"], api_key_required=True)
@api_view
def usage():
    return json_response(get_meter().usage(_caller()))


@app.route("/openapi.json", methods=["GET"])
@api_view
def openapi_document():
    """The OpenAPI 3 description (chalicelib/openapi.json, kept in sync with the code by a test)."""
    return Response(body=openapi.served(), status_code=200, headers={"Content-Type": "application/json"})


@app.route("/health", methods=["GET"])
@api_view
def health():
    model_path = pipeline.model_file(get_settings())
    try:
        faces.load_model(model_path)  # the landmark model and the face detector: frames need both
        ready = True
    except ModelUnavailable:
        ready = False
    status = faces.model_status(model_path)
    ok = ready and status["loaded"]
    return json_response({"status": "ok" if ok else "unavailable", "version": __version__, "model": status},
                         200 if ok else 503)
