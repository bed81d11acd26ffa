"""The bypass audit on the reference server: a correct one dodges nothing; one that trusts
X-Forwarded-For from anyone is dodged by that header (and only the vectors it opens); one that
keys each path as sent is dodged by other spellings of the route; one that keys on the token
(Mattermost's VaryByUser) by a fresh login per request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.nginx import NGINX, Limit, Nginx, proxy_http
from tests.support.runs import bypass_audit, dodged, mmload_run
from tests.support.server_fixture import ServeFactory

# what --per-route opens: its key is the path as sent, after percent-decoding, without the query
SPELLINGS = {"trailing-slash", "doubled-slash", "dot-segment", "path-case", "semicolon-parameter"}


GCRA = ("--per-sec", "10", "--max-burst", "20")


@pytest.mark.parametrize(
    ("server", "opened"),
    [
        ((), set()),
        (("--max-login-attempts", "0"), {"login-lockout"}),
        (("--trust-forwarded",), {"x-forwarded-for", "x-forwarded-for-appended"}),
        (("--per-route",), SPELLINGS),
        (("--vary-by-header", "X-Real-IP"), {"x-real-ip"}),
        (("--vary-by-user",), {"fresh-login"}),  # Mattermost's VaryByUser keys on the token
    ],
)
def test_each_fault_is_found_by_the_vectors_it_opens(
    tmp_path: Path, serve: ServeFactory, server: tuple[str, ...], opened: set[str]
) -> None:
    url = serve(*GCRA, *server, "--accounts", "1").url
    code, verdict = bypass_audit(tmp_path / "run", url)
    assert dodged(verdict) == opened, verdict["summary"]
    audited = [c for c in verdict["checks"] if c["id"].startswith("no-bypass:")]
    assert len(audited) == 20 and all(c["passed"] is not None for c in audited), audited
    assert code == (1 if opened else 0), verdict["summary"]
    lockout = next(c for c in verdict["checks"] if c["id"] == "login-lockout")
    assert lockout["passed"] is ("login-lockout" not in opened), lockout
    if opened - {"login-lockout"}:
        broken = next(c for c in audited if c["passed"] is False)
        assert "dodges the limit" in broken["message"] and broken["diagnosis"]


def test_failed_logins_from_several_addresses_still_lock_the_account(
    tmp_path: Path, serve: ServeFactory
) -> None:
    """With --source-ips, the failed logins come from each address in turn (and every other one
    with a forwarding header): Mattermost counts failures per account, so it still locks."""
    url = serve(*GCRA, "--accounts", "1").url
    sources = ("--source-ips", "127.0.0.2,127.0.0.3,127.0.0.4")
    code, verdict = bypass_audit(tmp_path / "run", url, extra=sources)
    lockout = next(c for c in verdict["checks"] if c["id"] == "login-lockout")
    assert lockout["passed"] is True and code == 0, verdict["summary"]
    data = json.loads((tmp_path / "run" / "bypass.json").read_text())
    assert data["lockout"]["addresses"] == 3, data["lockout"]


@pytest.mark.skipif(not Path(NGINX).exists(), reason=f"{NGINX} is not installed (nginx-light)")
@pytest.mark.parametrize(
    ("trusted", "opened"),
    [(["0.0.0.0/0"], {"x-forwarded-for"}), (["127.0.0.9"], set())],
    ids=["trusts-everyone", "trusts-its-proxy"],
)
def test_nginx_limit_req_behind_a_trusted_x_forwarded_for(
    tmp_path: Path, serve: ServeFactory, trusted: list[str], opened: set[str]
) -> None:
    """A real limiter: nginx's limit_req keyed on the client's address, which the realip module
    reads from X-Forwarded-For (its last address) when the request comes from a trusted one.
    Trusting everyone, a client spoofs a fresh address per request and dodges the limit, and the
    audit names the header; trusting only the proxy in front of it (127.0.0.9, not the client),
    the same nginx passes.  An X-Forwarded-For with the client's own address appended is not a
    dodge here: nginx reads the last address."""
    backend = serve("--no-rate-limit", "--accounts", "1")
    limit = Limit(per_sec=10, burst=20)
    config = lambda port: proxy_http(  # noqa: E731
        port, [backend.url], limit, real_ip_from=trusted, real_ip_header="X-Forwarded-For"
    )
    proxy = Nginx.start(tmp_path / "nginx", config)
    try:
        code, verdict = bypass_audit(tmp_path / "run", proxy.url)
    finally:
        proxy.stop()
    assert dodged(verdict) == opened, verdict["summary"]
    audited = [c for c in verdict["checks"] if c["id"].startswith("no-bypass:")]
    assert all(c["passed"] is not None for c in audited), [
        c for c in audited if c["passed"] is None
    ]
    if opened:
        [broken] = [c for c in audited if c["passed"] is False]
        assert "X-Forwarded-For" in broken["message"] and code == 1, broken


def test_mmload_run_audits_its_reference_server_and_fails_a_trusted_header(tmp_path: Path) -> None:
    done = mmload_run(
        tmp_path,
        "--scenario",
        "bypass",
        "-u",
        "1",
        "-t",
        "60s",
        "--server-trust-forwarded",
        timeout=120,
    )
    assert done.code == 1, done.err
    verdict = json.loads((done.folder / "verdict.json").read_text()) if done.folder else {}
    assert dodged(verdict) == {"x-forwarded-for", "x-forwarded-for-appended"}, verdict
    assert "no-bypass:x-forwarded-for" in done.err  # the summary names it
    others = [c for c in verdict["checks"] if c["passed"] is False and "no-bypass" not in c["id"]]
    assert all("dodged the limit" in c["diagnosis"] for c in others), others
