"""One request outside the user's HTTP client, recorded like any other: what the client cannot
send (HTTP/1.0), where it cannot send from per request (another ``--source-ips`` address), or
as a new client would (without the cookies the user's client keeps).
Through ``http.client`` (its sockets are gevent's once Locust has patched them), over a
connection of its own that is closed after the answer.  The answer fires Locust's request event,
so the collector records it with its headers."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from mmload.harness.capture import limited_suffix


class _Http10(http.client.HTTPConnection):
    """HTTP/1.0 as old clients send it: no Host header, no keep-alive."""

    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"


class _Https10(http.client.HTTPSConnection):
    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"


class HttpError(Exception):
    pass


class Answer:
    """What the request event hands the collector: a status and case-insensitive headers."""

    def __init__(self, status_code: int, headers: Any, body: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, body

    def json(self) -> Any:
        return json.loads(self.content or b"null")


def send(
    user: Any,
    method: str,
    path: str,
    name: str,
    headers: dict[str, str],
    body: Any = None,
    http10: bool = False,
    source: str = "",
    auth: bool = True,
    context: dict[str, Any] | None = None,
    failure: bool = True,
) -> Answer:
    """``method path`` to the user's host, with the user's auth (unless ``auth`` is false or
    ``headers`` replace it) and never a cookie, from ``source`` ("": the system's choice); its
    answer (status 0 when none came).  ``context``: who sent it, when not the user as it is;
    ``failure``: whether an error status counts as a failure in Locust's statistics."""
    target = urlsplit(user.host)
    https = target.scheme == "https"
    timeout = float(getattr(user.settings, "request_timeout", 30.0))
    host, port, bind = target.hostname or "", target.port, (source, 0) if source else None
    conn: http.client.HTTPConnection
    if https:  # verified as the user's client verifies (Locust's FastHttpUser: insecure)
        tls = ssl.create_default_context()
        if getattr(user, "insecure", True):
            tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
        secure = _Https10 if http10 else http.client.HTTPSConnection
        conn = secure(host, port, timeout=timeout, source_address=bind, context=tls)
    else:
        plain = _Http10 if http10 else http.client.HTTPConnection
        conn = plain(host, port, timeout=timeout, source_address=bind)
    sent = {**(user.auth if auth else {}), **headers}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    start, began = time.time(), time.perf_counter()
    exception: Exception | None = None
    try:
        conn.request(method, path, body=payload, headers=sent)
        resp = conn.getresponse()
        answer = Answer(resp.status, resp.headers, resp.read())
    except (OSError, http.client.HTTPException) as exc:
        answer, exception = Answer(0, None, b""), exc
    finally:
        conn.close()
    if user.limited(answer):  # named as the user's client names a refusal
        name += limited_suffix(answer.status_code)
    elif exception is None and answer.status_code >= 400 and failure:
        exception = HttpError(f"HTTP {answer.status_code}")  # a failure, as the client's are
    user.environment.events.request.fire(
        request_type=method,
        name=name,
        response_time=(time.perf_counter() - began) * 1000,
        response_length=len(answer.content),
        response=answer,
        context=user.context() if context is None else context,
        exception=exception,
        start_time=start,
        url=path,
    )
    return answer
