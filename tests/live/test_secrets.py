"""Passwords, tokens and incoming-webhook ids never leave mmload: not in any file of the run folder
(records.bin raw and decoded, the report), not in what it prints.  Each password holds a marker
of its own, so a password leaked in any encoding (JSON, repr, URL) is still found."""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from mmload.options import Settings
from mmload.results.records_file import read_records
from mmload.server.ids import new_id
from tests.support.runs import REPO, Done, FakeServer, mmload_run

pytestmark = pytest.mark.slow

PASSWORDS = [
    'pa,ss "w0rd" \u00fc\u20ac mark-A1',
    "#hash;semi\ttab mark-B2",
    "new\nline 'q' mark-C3",
]
# the reference server's tokens: 26 letters of Mattermost's id alphabet, on their own
REFERENCE_TOKEN = re.compile(
    rb"(?<![A-Za-z0-9+/_-])[ybndrfg8ejkmcpqxot1uwisza345h769]{26}"
    rb"(?![A-Za-z0-9+/_-])"
)


def forms(secret: str) -> list[bytes]:
    """The ways a secret could be written down."""
    shown = {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], quote(secret)}
    shown |= {m for m in re.findall(r"mark-\w\d", secret)}  # the marker alone
    return [s.encode() for s in shown]


def test_the_search_would_find_a_leak() -> None:
    for password in PASSWORDS:
        for leaked in (json.dumps({"p": password}), repr(password), quote(password), password):
            assert any(form in leaked.encode() for form in forms(password)), leaked
    assert REFERENCE_TOKEN.fullmatch(new_id().encode())
    assert REFERENCE_TOKEN.search(b"Bearer " + new_id().encode() + b"\n")


def everything(done: Done) -> dict[str, bytes]:
    """Every file of the run folder (report included), the records decoded, what was printed."""
    assert done.folder is not None
    found = {str(p): p.read_bytes() for p in done.folder.rglob("*") if p.is_file()}
    found["records, decoded"] = "\n".join(map(repr, read_records(done.folder))).encode()
    export = subprocess.run(
        [sys.executable, "-m", "mmload", "export", str(done.folder)],
        cwd=REPO,
        capture_output=True,
        timeout=60,
        check=True,
    )
    found["mmload export"] = export.stdout
    found["stdout"], found["stderr"] = done.out.encode(), done.err.encode()
    assert any(p.endswith("report.html") for p in found) and any(
        p.endswith("records.bin") for p in found
    )
    return found


def assert_absent(secrets: list[str], places: dict[str, bytes]) -> None:
    for secret in secrets:
        for form in forms(secret):
            leaks = [where for where, data in places.items() if form in data]
            assert not leaks, f"{form!r} found in {leaks}"


def test_the_embedded_servers_password_and_tokens_stay_secret(tmp_path: Path) -> None:
    password = PASSWORDS[0]
    done = mmload_run(
        tmp_path, "--accounts", "3", "-u", "3", "-t", "3s", env={"MMLOAD_PASSWORD": password}
    )
    assert done.code in (0, 1, 4), done.err  # it logged in: the password reached the server
    assert done.run()["logins"]["succeeded"] == 3
    places = everything(done)
    assert_absent([password], places)
    tokens = {where: REFERENCE_TOKEN.findall(data) for where, data in places.items()}
    assert not any(tokens.values()), {w: t for w, t in tokens.items() if t}


def test_a_hosts_passwords_and_tokens_stay_secret(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    rows = [[f"user{k}", password] for k, password in enumerate(PASSWORDS, 1)]
    with open(accounts, "w", newline="") as f:
        csv.writer(f).writerows([["login_id", "password"], *rows])
    with FakeServer("--login-token", "issued") as fake:
        done = mmload_run(
            tmp_path, "--host", fake.url, "--accounts", str(accounts), "-u", "3", "-t", "3s"
        )
        stats = fake.stats()
    assert done.code in (0, 4), done.err  # 3 s may not decide the verdict
    assert sorted(stats["passwords"]) == sorted(PASSWORDS)  # each sent, exactly as written
    assert len(stats["tokens"]) == 3
    assert_absent(PASSWORDS + stats["tokens"], everything(done))


def test_a_hook_id_is_never_written() -> None:
    """Whoever has an incoming webhook's id can post to it.  run.json's settings (which the
    report shows) say only that one was given; the webhook's errors are named by status, never
    by URL (``tests/harness/test_harness_relogin.py``)."""
    hook = new_id()
    public = Settings.from_options(argparse.Namespace(hook_id=hook)).public()
    written = json.dumps(public).encode() + repr(public).encode()
    assert not [form for form in forms(hook) if form in written]
    assert not REFERENCE_TOKEN.search(written) and public["hook_id"] == "set"
