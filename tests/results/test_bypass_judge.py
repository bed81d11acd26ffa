"""The bypass audit's judgement (:mod:`mmload.results.bypass`): an evasion works only when more
got through than a drained bucket refills; controls that got more leave it undecided."""

from __future__ import annotations

from mmload.results.bypass import VECTORS, evasion, judge, spelled, spoofed

LIMITED = frozenset({429})


def attempt(before: list[int], evasion: list[int], after: list[int], seconds: float = 0.05) -> dict:
    return {"vector": "x-real-ip", "before": before, "evasion": evasion, "after": after,
            "seconds": seconds, "detail": "GET /x X-Real-IP: 192.0.2.1"}


def verdict(*attempts: dict, rate: float = 10.0) -> list[bool | None]:
    return [j.works for j in judge({"refill_per_s": rate, "attempts": list(attempts)}, LIMITED)]


def test_an_evasion_works_when_more_got_through_than_the_refill() -> None:
    refused = [429] * 3
    assert verdict(attempt(refused, [200] * 5, refused)) == [True]
    assert verdict(attempt(refused, [429, 200, 429, 429, 429], refused)) == [False]  # a refill
    assert verdict(attempt([200, 429, 429], [429, 200, 429, 429, 429], refused)) == [False]
    assert verdict(attempt([200, 429, 429], [200, 200, 429, 429, 429], refused)) == [True]
    assert verdict(attempt(refused, [404] * 5, refused)) == [True]  # let through, then 404
    assert verdict(attempt(refused, [0] * 5, refused)) == [False]  # never sent
    assert verdict(attempt([200] * 3, [200] * 5, [200] * 3)) == [None]  # nothing was drained
    assert verdict(attempt(refused, [200] * 5, refused, seconds=1.0)) == [False]  # 11 refill


def test_spellings_and_spoofed_addresses() -> None:
    path = "/api/v4/users/me"
    assert spelled("doubled-slash", path, 0) == "/api//v4/users/me"
    assert spelled("percent-encoded", path, 0) == "/api/v4/users/%6De"
    assert spelled("query-string", path, 7) == path + "?mmload=7"
    assert spelled("head-for-get", path, 0) == path
    assert [spoofed(0), spoofed(253), spoofed(254)] == ["192.0.2.1", "192.0.2.254", "198.51.100.1"]


def test_each_vector_sends_what_it_names() -> None:
    path = "/api/v4/users/me"
    by_name = {v.name: v for v in VECTORS}
    assert evasion(by_name["x-forwarded-for-appended"], path, 0) == (
        "GET", path, {"X-Forwarded-For": "192.0.2.1, 127.0.0.1"},
    )  # fmt: skip
    assert evasion(by_name["forwarded"], path, 1)[2] == {"Forwarded": "for=192.0.2.2"}
    assert evasion(by_name["head-for-get"], path, 0) == ("HEAD", path, {})
    assert evasion(by_name["trailing-slash"], path, 0) == ("GET", path + "/", {})
    assert evasion(by_name["new-connection"], path, 0)[2] == {"Connection": "close"}
