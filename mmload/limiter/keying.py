"""Which bucket a request falls in: Mattermost's ``RateLimiter.GenerateKey``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keying:
    vary_by_remote_addr: bool = True
    vary_by_user: bool = False
    vary_by_header: str = ""  # header name; its lower-cased value is appended to the key

    def key(self, remote_addr: str, token: str | None, header_value: str | None) -> str:
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
        return key
