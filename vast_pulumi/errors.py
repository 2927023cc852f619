"""The package's exceptions.

Every failed Vast.ai API call surfaces as a :class:`VastApiError` (or one of its two subclasses), whose
``str()`` is a single line fit for the Pulumi CLI: method, path (never the query string, which is where
keys used to leak), HTTP status, the API's error code and its message.
"""

from __future__ import annotations

# Error codes and messages the API uses for "there is no such thing". Not-found comes back as 404, as
# 410 for offers that are gone, and as 400 with a "... not found for user" message on the serverless
# routes (the 400/404 examples in Vast's OpenAPI spec for DELETE endptjobs and workergroups).
_NOT_FOUND_CODES = frozenset({"no_such_ask", "no_such_workergroup", "not_found", "no_such_instance"})
_NOT_FOUND_PHRASES = (
    "not found",
    "not available",
    "no longer available",
    "does not exist",
    "invalid autojob id",
)
# How the API says "this key is not valid" besides 401: 403, and a 404 on some routes (OpenAPI's
# POST /bundles/ "Invalid user key"; the official CLI's "Session expired" for a 2FA session key).
_AUTH_ERROR_CODE = "auth_error"
_AUTH_MESSAGE_PREFIXES = ("invalid user key", "session expired")


def is_auth_failure(status: int | None, error: str | None, msg: str) -> bool:
    """Whether an answer rejects the API key. Such an answer never means "not found"."""
    if status in (401, 403):
        return True
    lowered = msg.strip().lower()
    return status == 404 and (error == _AUTH_ERROR_CODE or lowered.startswith(_AUTH_MESSAGE_PREFIXES))


class VastConfigError(ValueError):
    """The provider settings are unusable (no API key, an insecure URL)."""


class VastApiError(Exception):
    """A Vast.ai API call failed.

    ``status`` is the HTTP status (``200`` for a ``{"success": false}`` body, ``None`` when no response
    arrived), ``error`` the API's error code (``no_such_ask``), ``msg`` its human-readable message.
    ``made_id`` is an object the failed call made all the same: a rent with a bid below the offer's
    minimum still creates the (stopped) instance and names it as ``new_contract`` in the error.
    """

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status: int | None,
        error: str | None = None,
        msg: str = "",
        made_id: int | None = None,
    ) -> None:
        self.method = method
        self.path = path.split("?", 1)[0]
        self.status = status
        self.error = error
        self.msg = msg
        self.made_id = made_id
        super().__init__(self._describe())

    def _describe(self) -> str:
        detail = " ".join(part for part in (str(self.status or ""), self.error or "") if part)
        message = f"{detail}: {self.msg}" if detail and self.msg else detail or self.msg
        return f"Vast API {self.method} {self.path} failed: {message}"

    @property
    def is_not_found(self) -> bool:
        """Whether the API says the addressed object does not exist (any of its several spellings).

        Never for a rejected key: with a revoked key, every object would look gone.
        """
        if is_auth_failure(self.status, self.error, self.msg):
            return False
        if self.status == 404 or self.error in _NOT_FOUND_CODES:
            return True
        lowered = self.msg.lower()
        return self.status in (400, 410) and any(phrase in lowered for phrase in _NOT_FOUND_PHRASES)


class VastAuthError(VastApiError):
    """The API rejected the API key (401, 403, or a 404 that says so; see :func:`is_auth_failure`)."""

    def _describe(self) -> str:
        reason = " ".join(part for part in (str(self.status or ""), self.msg or "Invalid user key") if part)
        return f"Vast API rejected the API key ({reason}); set vast:apiKey or VAST_API_KEY"

    @property
    def is_not_found(self) -> bool:
        return False


class VastConflictError(ValueError):
    """Creating would take over an object the stack did not make (an endpoint name already in use)."""


class VastAccountError(RuntimeError):
    """The configured key belongs to another account than the one that owns a managed object."""


class VastConnectionError(VastApiError):
    """No usable response arrived: the connection failed, dropped or timed out, or a create was
    answered with a 5xx (``status`` set), which the server may send after applying it.

    ``outcome_unknown`` is true when the request may have reached the server and been applied (the
    connection dropped after sending, or the read timed out). Callers making non-idempotent writes must
    then look for the object they tried to create instead of blindly repeating the write.
    """

    def __init__(
        self, *, method: str, path: str, reason: str, outcome_unknown: bool, status: int | None = None
    ) -> None:
        self.reason = reason
        self.outcome_unknown = outcome_unknown
        super().__init__(method=method, path=path, status=status, msg=reason)

    def _describe(self) -> str:
        fate = "the request may have been applied" if self.outcome_unknown else "the request was not sent"
        answer = f"answered {self.reason}" if self.status is not None else f"no response ({self.reason})"
        return f"Vast API {self.method} {self.path} failed: {answer}; {fate}"
