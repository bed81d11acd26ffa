"""The bypass audit's judgement (:mod:`mmload.results.bypass`): an evasion works only when its
requests got through between refused controls, more often than a drained bucket refills; it is
limited when its requests were refused; anything else is undecided, saying why."""

from __future__ import annotations

from mmload.results.bypass import (
    EVASIONS,
    VECTORS,
    Attempt,
    evasion,
    judge,
    judge_one,
    spelled,
    spoofed,
)

LIMITED = frozenset({429})
X_REAL_IP = next(v for v in VECTORS if v.name == "x-real-ip")
R, A = 429, 200  # refused, accepted


def interleaved(*statuses: int, seconds: float = 0.05) -> Attempt:
    """A try as the audit sends it: control, evasion, control, ..., control."""
    order = "".join("C" if i % 2 == 0 else "E" for i in range(len(statuses)))
    return Attempt("x-real-ip", order, list(statuses), seconds, "GET /x X-Real-IP: 192.0.2.1")


def works(tried: Attempt, rate: float = 10.0) -> bool | None:
    return judge_one(X_REAL_IP, tried, rate, LIMITED).works


def test_an_evasion_works_when_it_gets_through_between_refused_controls() -> None:
    assert works(interleaved(R, A, R, A, R, A, R, A, R, A, R)) is True
    assert works(interleaved(R, A, R, A, R, A, R, R, R, R, R)) is True  # 3 between refusals
    assert works(interleaved(R, A, R, A, R, R, R, R, R, R, R)) is False  # 2: a refill may do it
    assert works(interleaved(R, R, R, R, R, R, R, R, R, R, R)) is False
    assert works(interleaved(R, 404, R, 404, R, 404, R, 404, R, 404, R)) is True  # let through


def test_a_window_that_opens_mid_try_is_not_a_dodge() -> None:
    """A fixed window of 4 resets after the second control: four requests in a row get through,
    controls among them, then the window is spent.  Counted only between refusals, none is an
    evasion's; the old judgement (evasions against a rate's refill) called it a dodge."""
    assert works(interleaved(R, R, R, A, A, A, A, R, R, R, R), rate=4.0) is False
    assert works(interleaved(R, R, R, R, R, A, A, A, A, A, A), rate=4.0) is None  # controls won


def test_the_try_starts_where_the_bucket_is_drained() -> None:
    """The drain may stop a few requests short: what got through before the first refused
    control is the drain's, not the evasion's."""
    assert works(interleaved(A, A, A, R, R, A, R, R, R, R, R)) is False
    assert works(interleaved(A, A, A, R, R, A, R, A, R, A, R)) is True


def test_undecided_says_why_and_whether_another_try_may_tell() -> None:
    not_drained = judge_one(X_REAL_IP, interleaved(*[A] * 11), 10.0, LIMITED)
    assert not_drained.works is None and not_drained.again and "not drained" in not_drained.why
    unanswered = judge_one(X_REAL_IP, interleaved(R, 0, R, 400, R, 503, R, 0, R, 0, R), 10, LIMITED)
    assert unanswered.works is None and not unanswered.again
    assert "neither let through nor refused" in unanswered.why
    # a slow try: the bucket refilled 6 in it, so 3 acceptances between refusals prove nothing,
    # and only 2 refusals are not enough to call it limited
    slow = judge_one(
        X_REAL_IP, interleaved(R, A, R, A, R, A, R, R, R, R, R, seconds=0.5), 10, LIMITED
    )
    assert slow.works is None and slow.again and "neither" in slow.why


def test_a_vector_is_judged_on_its_first_decided_try() -> None:
    def raw(*statuses: int) -> dict:
        t = interleaved(*statuses)
        return {"vector": t.vector, "order": t.order, "statuses": t.statuses, "seconds": 0.05}

    undecided, dodged, held = raw(*[A] * 11), raw(R, A, R, A, R, A, R, A, R, A, R), raw(*[R] * 11)
    data = {"refill_per_s": 10.0, "attempts": [undecided, dodged, held]}
    assert [j.works for j in judge(data, LIMITED)] == [True]


def test_a_run_written_before_the_controls_were_interleaved_is_still_judged() -> None:
    old = {
        "vector": "x-real-ip",
        "before": [R] * 3,
        "evasion": [A] * 5,
        "after": [R] * 3,
        "seconds": 0.05,
        "detail": "GET /x",
    }
    assert [j.works for j in judge({"refill_per_s": 10.0, "attempts": [old]}, LIMITED)] == [True]
    old |= {"evasion": [R] * 5}
    assert [j.works for j in judge({"refill_per_s": 10.0, "attempts": [old]}, LIMITED)] == [False]


def test_spellings_differ_from_request_to_request() -> None:
    path = "/api/v4/users/me"
    for name in (
        "trailing-slash",
        "doubled-slash",
        "dot-segment",
        "path-case",
        "percent-encoded",
        "semicolon-parameter",
        "query-string",
    ):
        for start in range(0, 200, 2 * EVASIONS):  # a vector's two tries: 10 requests
            tried = {spelled(name, path, n) for n in range(start, start + 2 * EVASIONS)}
            assert len(tried) == 2 * EVASIONS and path not in tried, (name, tried)
            assert all(s.startswith("/") and not s.startswith("//") for s in tried)  # no host
            assert all(len(s) < 3 * len(path) for s in tried)
    assert spelled("doubled-slash", path, 0) == "/api//v4/users/me"
    assert spelled("percent-encoded", path, 0) == "/%61pi/v4/users/me"
    assert spelled("query-string", path, 7) == path + "?mmload=7"
    assert spelled("head-for-get", path, 0) == path
    assert [spoofed(0), spoofed(253), spoofed(254)] == ["192.0.2.1", "192.0.2.254", "198.51.100.1"]


def test_each_vector_sends_what_it_names() -> None:
    path = "/api/v4/users/me"
    by_name = {v.name: v for v in VECTORS}
    appended = evasion(by_name["x-forwarded-for-appended"], path, 0)
    assert (appended.method, appended.path) == ("GET", path)
    assert appended.headers == {"X-Forwarded-For": "192.0.2.1, 127.0.0.1"}
    assert evasion(by_name["forwarded"], path, 1).headers == {"Forwarded": "for=192.0.2.2"}
    assert evasion(by_name["head-for-get"], path, 0).method == "HEAD"
    assert evasion(by_name["trailing-slash"], path, 0).path == path + "/"
    assert evasion(by_name["new-connection"], path, 0).headers == {"Connection": "close"}
    fresh = evasion(by_name["fresh-login"], path, 0)
    assert fresh.how == "fresh-login" and "new login" in fresh.shown()
    assert evasion(by_name["http-1.0"], path, 0).how == "http/1.0"


def test_the_lockout_is_told_only_by_answers() -> None:
    from mmload.results.bypass import LOCKED, lockout

    def told(failed: list[int], then: int, then_id: str = "") -> bool | None:
        data = {"lockout": {"failed": failed, "then": then, "then_id": then_id}}
        return lockout(data, LIMITED)[0]

    assert told([401] * 15, 401, LOCKED) is True
    assert told([401] * 15, 200) is False
    assert told([401] * 15, 429) is None  # rate-limited: nothing tells
    assert told([0] * 15, 0) is None  # no answer (a TLS error, a dead server) is no lockout
    assert told([401] * 15, 503) is None
    assert told([503] * 15, 401) is None
    assert lockout({"lockout": {"why": "no disposable account"}}, LIMITED) == (
        None,
        "no disposable account",
    )
