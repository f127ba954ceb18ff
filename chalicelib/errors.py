"""The one error hierarchy: each error knows its HTTP status, a stable code and a public message.

Errors are turned into HTTP responses in exactly one place (``app.py``'s ``api_view``); every other
module raises these and never builds a response itself.
"""
from __future__ import annotations


class TintcamError(Exception):
    """Base class. ``status`` is the HTTP status, ``code`` a stable machine-readable string."""

    status = 500
    code = "internal_error"
    retry_after: int | None = None   # seconds sent as Retry-After unless the raiser gives its own

    def __init__(self, message: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = dict(headers or {})
        if self.retry_after is not None:
            self.headers.setdefault("Retry-After", str(self.retry_after))

    def body(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.param is not None:
            body["param"] = self.param
        return body


class BadParameter(TintcamError):
    """A query parameter is unknown, malformed or out of range (``param`` names it)."""
    status = 400
    code = "bad_parameter"


class EmptyBody(TintcamError):
    status = 400
    code = "empty_body"


class InvalidImage(TintcamError):
    """The body claims to be an image we accept but cannot be decoded."""
    status = 400
    code = "invalid_image"


class NotAcceptable(TintcamError):
    status = 406
    code = "not_acceptable"


class PayloadTooLarge(TintcamError):
    """The request body has more bytes than the limit (checked before anything is parsed)."""
    status = 413
    code = "payload_too_large"


class ImageTooLarge(TintcamError):
    """The image header declares more pixels (or a longer side) than the limit; nothing was decoded."""
    status = 413
    code = "image_too_large"


class OutputTooLarge(TintcamError):
    """Even at the lowest allowed quality the answer would not fit the response payload limit."""
    status = 413
    code = "output_too_large"


class UnsupportedMediaType(TintcamError):
    status = 415
    code = "unsupported_media_type"


class ModelUnavailable(TintcamError):
    """The landmark model cannot be loaded (missing or corrupt file): a server fault, retry later."""
    status = 503
    code = "model_unavailable"
    retry_after = 30


class MissingApiKey(TintcamError):
    status = 401
    code = "missing_api_key"


class InvalidApiKey(TintcamError):
    """Unknown or revoked key (the message never repeats the key)."""
    status = 403
    code = "invalid_api_key"


class QuotaExceeded(TintcamError):
    """The key's monthly frame quota is used up; ``Retry-After`` says when it resets."""
    status = 429
    code = "quota_exceeded"


class StoreUnavailable(TintcamError):
    """The meter store cannot be read or written: the frame is refused rather than served unmetered."""
    status = 503
    code = "meter_unavailable"
    retry_after = 5
