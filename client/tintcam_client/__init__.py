"""tintcam client: ``Client(api_url, api_key).tint(image)`` and the ``tintcam`` command line."""
from .api import (ApiError, AuthError, BadRequest, Client, ConnectionFailed, LandmarksResult, QuotaExceeded,
                  ServerError, TintResult)
from .patch import composite

__all__ = ["Client", "TintResult", "LandmarksResult", "ApiError", "AuthError", "BadRequest", "QuotaExceeded",
           "ServerError", "ConnectionFailed", "composite"]
__version__ = "0.1.0"
