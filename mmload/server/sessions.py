"""Sessions: which user a token belongs to, on one node or on any node of a cluster.

Mattermost's nodes share sessions through their database.  Reference servers share nothing, so a
cluster's token carries its own proof instead: the user's number, a nonce, and an HMAC of both
under the cluster secret.  Any node started with the same secret (and the same ``--accounts``)
verifies it without asking the others.  A logout can only end the session on the node that
served it: with no shared state, the other nodes never hear of it.
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from typing import Generic, TypeVar

from mmload.server.ids import ALPHABET, ID_LENGTH, letters, new_id

MAX_SESSIONS = 200_000  # tokens a node remembers (and a cluster node's logouts); oldest go first
NUMBER_LETTERS = 5  # a cluster token: the user's number in base 32 (up to 32**5 users),
NONCE_LETTERS = 5  # a nonce (two logins of one user get two tokens),
MAC_LETTERS = ID_LENGTH - NUMBER_LETTERS - NONCE_LETTERS  # and 16 letters (80 bits) of HMAC
MAX_CLUSTER_USERS = 32**NUMBER_LETTERS
_VALUE = {letter: k for k, letter in enumerate(ALPHABET)}

U = TypeVar("U")


class Sessions(Generic[U]):
    """A node's own sessions: a random token per login, the most recent ``MAX_SESSIONS`` kept."""

    def __init__(self) -> None:
        self.known: OrderedDict[str, U] = OrderedDict()

    def __len__(self) -> int:
        return len(self.known)

    def issue(self, user: U, number: int) -> str:
        """A new token for ``user``, the ``number``-th seeded account (from 0)."""
        token = new_id()
        self._remember(token, user)
        return token

    def user_for(self, token: str) -> U | None:
        return self.known.get(token)

    def revoke(self, token: str) -> None:
        self.known.pop(token, None)

    def _remember(self, token: str, user: U) -> None:
        self.known[token] = user
        if len(self.known) > MAX_SESSIONS:
            self.known.popitem(last=False)


class ClusterSessions(Sessions[U]):
    """Tokens every node started with the same secret accepts: number + nonce + HMAC."""

    def __init__(self, secret: bytes, users: list[U]) -> None:
        super().__init__()
        if len(users) > MAX_CLUSTER_USERS:
            raise ValueError(f"a cluster holds at most {MAX_CLUSTER_USERS} accounts")
        self.secret = secret
        self.users = users  # by number
        self.revoked: OrderedDict[str, None] = OrderedDict()

    def issue(self, user: U, number: int) -> str:
        text = _letters(number) + new_id()[:NONCE_LETTERS]
        token = text + self._mac(text)
        self._remember(token, user)
        return token

    def user_for(self, token: str) -> U | None:
        user = self.known.get(token)
        if user is not None or len(token) != ID_LENGTH or token in self.revoked:
            return user
        text, mac = token[: ID_LENGTH - MAC_LETTERS], token[ID_LENGTH - MAC_LETTERS :]
        number = _number(text[:NUMBER_LETTERS])
        if number is None or number >= len(self.users):
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(text).encode()):
            return None
        user = self.users[number]
        self._remember(token, user)  # verified once per node
        return user

    def revoke(self, token: str) -> None:
        super().revoke(token)
        self.revoked[token] = None
        if len(self.revoked) > MAX_SESSIONS:
            self.revoked.popitem(last=False)

    def _mac(self, text: str) -> str:
        digest = hmac.digest(self.secret, b"session:" + text.encode(), "sha256")
        return letters(digest[:MAC_LETTERS])


def _letters(number: int) -> str:
    out = []
    for _ in range(NUMBER_LETTERS):
        number, digit = divmod(number, 32)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def _number(letters: str) -> int | None:
    number = 0
    for letter in letters:
        value = _VALUE.get(letter)
        if value is None:
            return None
        number = number * 32 + value
    return number
