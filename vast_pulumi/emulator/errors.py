"""The API's error answer, raised by the backend and turned into a response by the HTTP layer."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """``{"success": false, "error": code, "msg": msg, **extra}`` with HTTP ``status`` (and, for the
    few answers that carry them, response ``headers``)."""

    def __init__(self, status: int, code: str, msg: str, **extra: Any) -> None:
        super().__init__(f"{status} {code}: {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"success": False, "error": self.code, "msg": self.msg, **self.extra}


def invalid_args(field: str, problem: str, **extra: Any) -> ApiError:
    """400 ``invalid_args`` naming the field, as the API does for a bad body."""
    return ApiError(400, "invalid_args", f"Invalid args: {field}: {problem}", **extra)
