"""Rejected API keys, answered as the real API answers them.

- A key that matches no account, or a deleted (revoked) one: 401 ``auth_error`` "Invalid user key"
  (OpenAPI: POST /api/v0/team, openapi.yaml:2323-2338; the official client's ``_is_tfa_session_expired``,
  vastai/cli/main.py:21-31: "401 'Invalid user key' is sent when a deleted API key is used").
- Except on the routes whose OpenAPI entry gives 404 for a key that matches no user
  (:data:`NOT_FOUND_ROUTES`): the same body with status 404.
- An expired 2FA session key: 404 "Session expired. Please log in again." on every route
  (vastai/cli/main.py:21-31). The sources give only the status and the message; the error code is
  ``auth_error`` like the other key rejections.

A rejected key is never "not found" for the addressed resource: the account and its resources stay,
and another key of the same account still reaches them.
"""

from __future__ import annotations

from vast_pulumi.emulator.errors import ApiError

INVALID_KEY = "Invalid user key"
SESSION_EXPIRED = "Session expired. Please log in again."
REVOKED = "revoked"
EXPIRED = "expired"

# (method, route) where Vast's OpenAPI spec documents 404 for a key that matches no user. Only the
# first is served by the emulator; the others are listed so they answer right once they are.
NOT_FOUND_ROUTES = frozenset(
    {
        ("POST", "/api/v0/bundles/"),  # openapi.yaml:6867-6878, 404 "Invalid user key"
        ("GET", "/api/v0/charges/"),  # openapi.yaml:7375-7384, "does not match any user"
        ("GET", "/api/v1/invoices/"),  # openapi.yaml:8613, same wording
        ("GET", "/api/v0/team/roles-full/"),  # openapi.yaml:8920-8935, "Invalid API key"
    }
)


class KeyRejected(ApiError):
    """The key is missing, unknown or revoked (401), or an expired session key (404)."""

    def __init__(self, *, expired: bool = False) -> None:
        if expired:
            super().__init__(404, "auth_error", SESSION_EXPIRED)
        else:
            super().__init__(401, "auth_error", INVALID_KEY)
        self.expired = expired


def answer(rejected: KeyRejected, method: str, route: str) -> ApiError:
    """The rejection as ``method route`` answers it (404 on :data:`NOT_FOUND_ROUTES`)."""
    if not rejected.expired and (method, route) in NOT_FOUND_ROUTES:
        return ApiError(404, "auth_error", INVALID_KEY)
    return rejected
