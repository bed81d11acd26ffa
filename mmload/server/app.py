"""The reference server's request pipeline: limit, route, answer, stamp.

Like Mattermost, every route is rate-limited when limiting is on.  The one exception is mmload's
own ``/mmload/stats``, which reports what the server admitted and refused, for tests and runs.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from mmload.limiter.faults import ERROR_EVERY, FAULTS
from mmload.server import routes
from mmload.server.api import Call
from mmload.server.auth import token_from
from mmload.server.errors import AppError
from mmload.server.http import Request, Response
from mmload.server.ids import new_id
from mmload.server.limiting import LimitSettings, RateLimiter
from mmload.server.memory import Samples
from mmload.server.world import World

STATS_PATH = "/mmload/stats"
LIMITED_BODY = b"limit exceeded\n"
SERVER_VERSION = "10.5.0"
HTTP_ERRORS = {
    400: ("api.context.malformed_request.app_error", "The request could not be read."),
    413: ("api.context.request_body_too_large.app_error", "The request body is too large."),
    431: ("api.context.request_headers_too_large.app_error", "The request headers are too large."),
    500: ("api.context.internal_error.app_error", "An internal error occurred."),
}


class App:
    def __init__(self, world: World, limits: LimitSettings) -> None:
        self.world = world
        self.limits = limits
        self.limiter = RateLimiter(limits) if limits.enabled else None
        self.header_name = limits.keying.vary_by_header.lower()
        self.trust_forwarded = limits.keying.trust_forwarded
        self.errors = "errors-2pct" in limits.faults
        self.admitted = 0  # requests the limiter let through (errors-2pct: every 50th fails)
        self.memory = Samples()  # its resident memory over the run (serve samples it)
        canonical = json.dumps(settings_dict(limits), sort_keys=True).encode()
        config_hash = hashlib.sha256(canonical).hexdigest()[:12]
        self.version_id = f"{SERVER_VERSION}.mmload.{config_hash}.false"
        self.statuses: Counter[int] = Counter()

    def __call__(self, request: Request) -> Response:
        request_id = new_id()
        if request.path == STATS_PATH:
            response = self.stats()
        else:
            response = self.answer(request, request_id)
            self.statuses[response.status] += 1
        response.headers += [("X-Request-Id", request_id), ("X-Version-Id", self.version_id)]
        return response

    def error(self, status: int, detail: str) -> Response:
        """What the HTTP layer sends for a request it cannot pass on (400, 413, 431, 500)."""
        request_id = new_id()
        error_id, message = HTTP_ERRORS.get(status, HTTP_ERRORS[500])
        response = AppError(status, error_id, message, detail).response(request_id)
        self.statuses[status] += 1
        response.headers += [("X-Request-Id", request_id), ("X-Version-Id", self.version_id)]
        return response

    def answer(self, request: Request, request_id: str) -> Response:
        token = token_from(request)
        limit_headers: list[tuple[str, str]] = []
        if self.limiter is not None:
            header_value = request.headers.get(self.header_name) if self.header_name else None
            forwarded = request.headers.get("x-forwarded-for") if self.trust_forwarded else None
            limited, limit_headers = self.limiter.check(
                request.remote_addr, token, header_value, request.path, forwarded
            )
            if limited:
                return Response(
                    429,
                    LIMITED_BODY,
                    "text/plain; charset=utf-8",
                    [*limit_headers, ("X-Content-Type-Options", "nosniff")],
                )
        try:
            self.admitted += 1
            if self.errors and self.admitted % ERROR_EVERY == 0:  # the errors-2pct fault
                raise AppError(500, *HTTP_ERRORS[500], "errors-2pct: a failing backend")
            handler, params = routes.resolve(request.method, request.path)
            response = handler(Call(request, self.world, token, params))
        except AppError as exc:
            response = exc.response(request_id)
        response.headers += limit_headers
        return response

    def stats(self) -> Response:
        limiter = self.limiter
        body = {
            "requests": sum(self.statuses.values()),
            "accepted": limiter.accepted if limiter else sum(self.statuses.values()),
            "limited": limiter.refused if limiter else 0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "logins": sum(self.world.logins.values()),
            "logins_by_user": self.world.logins,
            "sessions": len(self.world.sessions),
            "cluster": self.world.cluster,
            "settings": settings_dict(self.limits),
            "memory_mb": self.memory.as_json(),  # [UNIX time, resident MB], every 10 s or so
        }
        return Response(200, json.dumps(body).encode())


def settings_dict(limits: LimitSettings) -> dict[str, object]:
    keying = limits.keying
    return {
        "enabled": limits.enabled,
        "per_sec": limits.rate.per_sec,
        "max_burst": limits.rate.burst,
        "memory_store_size": limits.memory_store_size,
        "vary_by_remote_addr": keying.vary_by_remote_addr,
        "vary_by_user": keying.vary_by_user,
        "vary_by_header": keying.vary_by_header,
        "trust_forwarded": keying.trust_forwarded,
        "per_route": keying.per_route,
        "algorithm": limits.algorithm,
        "dialect": limits.dialect,
        "faults": sorted(limits.faults),
        "fault_descriptions": {name: FAULTS[name] for name in sorted(limits.faults)},
    }
