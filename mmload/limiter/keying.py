"""Which bucket a request falls in: Mattermost's ``RateLimiter.GenerateKey``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keying:
    vary_by_remote_addr: bool = True
    vary_by_user: bool = False
    vary_by_header: str = ""  # header name; its lower-cased value is appended to the key
    # two classic misconfigurations of other servers, to calibrate a bypass audit against:
    trust_forwarded: bool = False  # the left-most X-Forwarded-For, when sent, is the address
    per_route: bool = False  # a bucket per path exactly as sent (so other spellings get fresh ones)

    def key(
        self,
        remote_addr: str,
        token: str | None,
        header_value: str | None,
        path: str = "",
        forwarded_for: str | None = None,
    ) -> str:
        if self.trust_forwarded and forwarded_for:
            remote_addr = forwarded_for.split(",", 1)[0].strip() or remote_addr
        key = ""
        if self.vary_by_user:
            if token:
                key = token
            elif self.vary_by_remote_addr:  # no token: fall back to the address
                key = remote_addr
        elif self.vary_by_remote_addr:
            key = remote_addr
        if self.vary_by_header:
            key += (header_value or "").lower()
        if self.per_route:
            key += " " + path
        return key
