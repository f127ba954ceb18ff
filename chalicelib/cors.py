"""Cross-origin access for the camera site: the configured site origins only, never '*' unless configured.

Chalice's own CORS support allows one fixed origin; the site may be served from several (the local
page, a CloudFront domain, a custom domain), so the request's Origin is echoed when it is allowed.
"""
from __future__ import annotations

from .settings import Settings

ALLOW_HEADERS = "Content-Type, Accept, X-Api-Key, Idempotency-Key, X-Track-State"
EXPOSE_HEADERS = ("X-Faces, X-Face-Boxes, X-Processing-Ms, X-Quota-Remaining, X-Track-State, X-Patch-Box, "
                  "Retry-After")
ALLOW_METHODS = "GET, POST, OPTIONS"


def allowed_origins(settings: Settings) -> list[str]:
    return [o.strip().rstrip("/") for o in settings.site_origins.split(",") if o.strip()]


def headers_for(origin: str | None, settings: Settings, preflight: bool = False) -> dict[str, str]:
    """CORS headers for a request from ``origin`` (empty when the origin is not allowed)."""
    if not origin:
        return {}
    allowed = allowed_origins(settings)
    if "*" in allowed:
        granted = "*"
    elif origin.rstrip("/") in allowed:
        granted = origin
    else:
        return {}
    headers = {"Access-Control-Allow-Origin": granted, "Access-Control-Expose-Headers": EXPOSE_HEADERS,
               "Vary": "Origin"}
    if preflight:
        headers.update({"Access-Control-Allow-Methods": ALLOW_METHODS, "Access-Control-Allow-Headers": ALLOW_HEADERS,
                        "Access-Control-Max-Age": "600"})
    return headers
