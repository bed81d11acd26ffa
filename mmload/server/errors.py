"""Mattermost's AppError: the JSON body of every error response."""

from __future__ import annotations

import json

from mmload.server.http import Response


class AppError(Exception):
    def __init__(
        self,
        status: int,
        error_id: str,
        message: str,
        detailed: str = "",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message
        self.detailed = detailed
        self.headers = headers or []

    def response(self, request_id: str) -> Response:
        body = {
            "id": self.error_id,
            "message": self.message,
            "detailed_error": self.detailed,
            "request_id": request_id,
            "status_code": self.status,
            "is_oauth": False,
        }
        return Response(self.status, json.dumps(body).encode(), headers=list(self.headers))


def bad_body(detail: str) -> AppError:
    return AppError(400, "api.context.invalid_body_param.app_error", "Invalid body.", detail)


def missing(param: str) -> AppError:
    return AppError(400, "api.context.invalid_param.app_error", f"Invalid {param} parameter.")


def unauthorized() -> AppError:
    return AppError(
        401,
        "api.context.session_expired.app_error",
        "Invalid or expired session, please login again.",
        "token missing, unknown or logged out",
    )


def forbidden(what: str) -> AppError:
    return AppError(
        403,
        "api.context.permissions.app_error",
        "You do not have the appropriate permissions.",
        what,
    )
