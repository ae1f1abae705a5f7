"""
What the parts of the fake Compute API (``compute_api.py`` and the
resources it mixes in: ``compute_catalog.py``, ``compute_networks.py``,
``compute_instances.py``) share: the API's path and the base of its
selfLinks, its timestamps and its error answer.
"""

import datetime

try:
    from fakes import server
except ImportError:  # run by hand: python3 tests/fakes/compute_api.py
    import server

PREFIX = "/compute/v1"
# what the real API puts in selfLinks; the fake accepts these, relative
# names ("global/networks/x") and its own URLs in references
SELF_BASE = "https://www.googleapis.com/compute/v1"


def _now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


class ApiError(server.ApiError):
    """
    An error answer in Google's shape.
    """

    STATUS = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS",
        412: "FAILED_PRECONDITION",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }

    def __init__(self, code, reason, message):
        super().__init__(code, reason, message)
        self.code, self.reason, self.message = code, reason, message

    @property
    def status(self):
        return self.code

    def document(self):
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "status": self.STATUS.get(self.code, "UNKNOWN"),
                "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
            }
        }
