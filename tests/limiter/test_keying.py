"""Bucket keys as Mattermost's RateLimiter.GenerateKey builds them."""

from __future__ import annotations

from mmload.limiter.keying import Keying


def test_default_is_the_remote_address() -> None:
    assert Keying().key("10.0.0.1", "tok", None) == "10.0.0.1"


def test_vary_by_user_uses_the_token_and_falls_back_to_the_address() -> None:
    keying = Keying(vary_by_remote_addr=True, vary_by_user=True)
    assert keying.key("10.0.0.1", "tok", None) == "tok"
    assert keying.key("10.0.0.1", None, None) == "10.0.0.1"
    assert Keying(vary_by_remote_addr=False, vary_by_user=True).key("10.0.0.1", None, None) == ""


def test_header_value_is_lower_cased_and_appended() -> None:
    keying = Keying(vary_by_header="X-Tenant")
    assert keying.key("10.0.0.1", None, "AcMe") == "10.0.0.1acme"
    assert keying.key("10.0.0.1", None, None) == "10.0.0.1"


def test_nothing_to_vary_by_is_one_shared_bucket() -> None:
    keying = Keying(vary_by_remote_addr=False)
    assert keying.key("10.0.0.1", "a", None) == keying.key("10.0.0.2", "b", None) == ""
