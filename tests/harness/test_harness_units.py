"""The harness's parts that need no server: accounts, pacing and its spread over workers,
options and their refusals (``tests/cli/test_option_refusals.py``: the checks of both paths)."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from locust import User
from locust.dispatch import UsersDispatcher
from locust.env import Environment
from locust.runners import MasterRunner, WorkerNode, WorkerRunner

from mmload.harness import accounts
from mmload.harness.pacing import Pacer, grid_slot, steps
from mmload.harness.plugin import worker_offsets
from mmload.harness.state import Shared, share
from mmload.harness.users import place_of
from mmload.options import (
    LOGIN_FLAGS,
    SCENARIO_ONLY,
    USES,
    Settings,
    acts_on,
    add_arguments,
    limited_statuses,
    status_list,
)
from mmload.options import ignored as refusal


def test_accounts_file_errors_name_the_line(tmp_path: Path) -> None:
    good = tmp_path / "a.csv"
    good.write_text("login_id,password\nalice,pw1\n# comment\nbob@example.com,pw2,ops\n")
    loaded = accounts.load(good)
    assert [(a.login_id, a.team) for a in loaded] == [
        ("alice", "mmload"),
        ("bob@example.com", "ops"),
    ]
    assert "pw1" not in repr(loaded)
    bad = tmp_path / "b.csv"
    bad.write_text("alice,pw1\nbob\n")
    with pytest.raises(accounts.AccountsError, match="line 2"):
        accounts.load(bad)
    with pytest.raises(accounts.AccountsError, match="cannot read"):
        accounts.load(tmp_path / "missing.csv")
    assert len(accounts.resolve("3")) == 3


def test_pacer_keeps_an_absolute_schedule_and_catches_up() -> None:
    now = [100.0]
    pacer = Pacer(lambda t: 2.0, start=100.0, slot=0.5, clock=lambda: now[0])
    assert pacer.first_delay() == 0.25
    now[0] = 100.25
    assert pacer.next_delay() == pytest.approx(0.5)
    now[0] = 102.0  # a slow response: behind schedule, so no wait until caught up
    assert pacer.next_delay() == 0.0
    assert pacer.next_delay() == 0.0
    assert pacer.next_delay() == pytest.approx(0.25)
    factor = steps(3.0, (0.5, 1.0, 4.0))
    assert [factor(t) for t in (0, 2.9, 3.0, 6.5, 100)] == [0.5, 0.5, 1.0, 4.0, 4.0]


def test_pacer_changes_rate_exactly_at_a_step() -> None:
    factor = steps(3.0, (0.5, 2.0))
    pacer = Pacer(factor, start=0.0, slot=0.0, clock=lambda: 0.0, step_seconds=3.0)
    sends = [pacer.next_at] + [pacer.next_delay() for _ in range(8)]
    # 0.5/s: 0, 2; then 1 s at 0.5/s covers half a request, the other half at 2/s takes 0.25 s
    assert sends[:4] == pytest.approx([0.0, 2.0, 3.25, 3.75])


class _U(User):
    pass


def ramp(nodes: list[WorkerNode], users: int, spawn_rate: float) -> dict[str, int]:
    """Users per worker at the end of a real ramp of Locust's own dispatcher."""
    dispatcher = UsersDispatcher(worker_nodes=nodes, user_classes=[_U])
    dispatcher.new_dispatch(target_user_count=users, spawn_rate=spawn_rate)
    dispatcher._wait_between_dispatch = 0  # no sleeping between the ramp's steps
    *_, final = dispatcher
    return {worker: counts["_U"] for worker, counts in final.items()}


class _Master(MasterRunner):
    def __init__(self, environment: Environment, nodes: list[WorkerNode]) -> None:
        self.environment = environment
        self.greenlet = None
        self.clients = SimpleNamespace(ready=nodes, running=[], spawning=[])  # type: ignore


class _Worker(WorkerRunner):
    def __init__(self, environment: Environment, client_id: str, index: int) -> None:
        self.environment, self.client_id, self.worker_index = environment, client_id, index
        self.greenlet = None


@pytest.mark.parametrize(("users", "workers"), [(10, 1), (10, 2), (10, 3), (7, 4), (50, 3)])
def test_paced_users_of_every_worker_take_evenly_spread_slots(users: int, workers: int) -> None:
    """Workers know the worker count: the users of every worker take evenly spread slots, no
    two the same (rather than user k of each taking slot k, all firing together), and one
    account each."""
    nodes = [WorkerNode(f"host{k % 2}_{k:032x}") for k in range(workers)]
    master_env = Environment(user_classes=[_U], parsed_options=argparse.Namespace())
    offsets = worker_offsets(master_env, _Master(master_env, nodes), users)
    options = argparse.Namespace()
    share(options, Shared(workers=workers, offsets=offsets))
    slots, numbers = [], []
    for index, (worker, count) in enumerate(ramp(nodes, users, spawn_rate=3).items()):
        env = Environment(user_classes=[_U], parsed_options=options)
        env.runner = _Worker(env, worker, index)
        for number in range(count):
            global_number, slot = place_of(env, number, users)
            numbers.append(global_number)
            slots.append(slot)
    assert sorted(numbers) == list(range(users))  # one account each, too
    assert sorted(slots) == [k / users for k in range(users)]


@pytest.mark.parametrize(("users", "workers"), [(10, 3), (7, 4), (50, 3), (11, 7)])
def test_without_the_masters_layout_slots_still_never_collide(users: int, workers: int) -> None:
    base, extra = divmod(users, workers)
    counts = [base + (k >= workers - extra) for k in range(workers)]  # extras on the last ones
    slots = sorted(
        grid_slot(n, index, workers, users) for index, c in enumerate(counts) for n in range(c)
    )
    assert len(set(slots)) == users
    gaps = [b - a for a, b in zip(slots, [*slots[1:], slots[0] + 1], strict=True)]
    assert max(gaps) <= 4 / users  # a few places are empty, spread out


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser, locust=False)
    return parser.parse_args(list(argv))


def test_settings_never_show_the_password_and_take_the_request_timeout() -> None:
    settings = Settings.from_options(parse("--password", "s3cret", "--request-timeout", "15"))
    assert settings.documented.per_sec == 10 and settings.documented.burst == 100
    assert settings.request_timeout == 15
    assert "s3cret" not in repr(settings.public())


@pytest.mark.parametrize(
    "argv",
    [
        ["--documented-limit", "10/ms"],
        ["--rate-factor", "0"],
        ["--rate-factor", "nan"],
        ["--step-time", "-1"],
        ["--request-timeout", "0"],
        ["--max-records", "-5"],
        ["--progress", "inf"],
    ],
)
def test_bad_option_values_are_refused(argv: list[str], capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(*argv)
    assert exc.value.code == 2
    assert argv[0] in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "statuses"),
    [
        ("429", (429,)),
        ("503", (503,)),
        ("429,503", (429, 503)),
        ("503, 429,503", (429, 503)),
        ("400,599", (400, 599)),
    ],
)
def test_limited_status_takes_error_statuses_sorted_once_each(
    text: str, statuses: tuple[int, ...]
) -> None:
    assert limited_statuses(text) == statuses
    assert limited_statuses(status_list(statuses)) == statuses  # what mmload run hands on
    settings = Settings.from_options(parse("--limited-status", text))
    assert settings.limited_status == frozenset(statuses)
    assert settings.public()["limited_status"] == list(statuses)  # run.json: sorted ints


def test_limited_status_is_429_unless_told() -> None:
    assert Settings.from_options(parse()).limited_status == frozenset({429})
    assert Settings.from_options(None).public()["limited_status"] == [429]
    # as a worker gets the master's options (msgpack: a list)
    told = SimpleNamespace(limited_status=[503, 429])
    assert Settings.from_options(told).limited_status == frozenset({429, 503})


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "200",
        "99",
        "600",
        "",
        ",",
        " ",
        "429,",
        "429,,503",
        "4_29",
        "+429",
        "٤٢٩",
        "429.0",
        "1e3",
        "-429",
    ],
)
def test_limited_status_refuses_what_is_not_an_error_status(text: str, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        parse("--limited-status", text)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--limited-status" in err and "Traceback" not in err
    assert "400" in err or "at least one" in err


@pytest.mark.parametrize(
    ("scenario", "given", "ignored"),
    [
        ("hammer", ["rate_factor"], "--rate-factor"),
        ("ramp", ["rate_factor"], "--rate-factor"),
        ("polite", ["rate_factor"], "--rate-factor"),
        ("mixed", ["rate_factor"], "--rate-factor"),
        ("probe", ["rate_factor"], "--rate-factor"),
        ("polite", ["step_time"], "--step-time"),
        ("mixed", ["hook_id"], "--hook-id"),
        ("steady", ["step_time", "rate_factor"], "--step-time"),
    ],
)
def test_options_a_scenario_would_ignore_are_refused(
    scenario: str, given: list[str], ignored: str
) -> None:
    message = refusal({scenario: USES[scenario]}, given, SCENARIO_ONLY)
    assert ignored in message and scenario in message


def test_options_a_scenario_acts_on_pass() -> None:
    assert refusal({"steady": USES["steady"]}, ["rate_factor"], SCENARIO_ONLY) == ""
    assert refusal({"ramp": USES["ramp"]}, ["step_time"], SCENARIO_ONLY) == ""
    assert refusal({"probe": USES["probe"]}, ["step_time"], SCENARIO_ONLY) == ""
    assert refusal({"webhook": USES["webhook"]}, ["hook_id", "rate_factor"], SCENARIO_ONLY) == ""
    login = ["api", "accounts", "password"]
    assert refusal({"hammer": acts_on("hammer")}, login, SCENARIO_ONLY | LOGIN_FLAGS) == ""


def test_webhook_refuses_the_login_options_it_would_ignore() -> None:
    """``--scenario webhook`` refuses ``--accounts``, ``--api`` and ``--password``, naming them
    all, rather than run and ignore them."""
    message = refusal(
        {"webhook": acts_on("webhook")},
        ["accounts", "api", "password"],
        SCENARIO_ONLY | LOGIN_FLAGS,
    )
    assert message == (
        "webhook would ignore --accounts, --api and --password (or MMLOAD_PASSWORD): they are "
        "for the scenarios that log in"
    )


def test_settings_keep_no_hook_id() -> None:
    """A hook id is a credential: whoever has it can post.  run.json (and so the report's
    settings) says only that one was given."""
    hook = "hk7q3xw1ot8bd5mz9yca4rupne"
    public = Settings.from_options(parse("--hook-id", hook)).public()
    assert hook not in repr(public) and public["hook_id"] == "set"
    assert Settings.from_options(parse()).public()["hook_id"] is None


@pytest.mark.parametrize(("total", "users"), [(106, 10), (6, 10), (101, 1), (7, 3)])
def test_the_probe_shares_its_burst_out_exactly(total: int, users: int) -> None:
    from mmload.harness.scenarios.probe import burst_share

    shares = [burst_share(total, users, number) for number in range(users)]
    assert sum(shares) == total and max(shares) - min(shares) <= 1


def test_the_key_a_request_is_counted_by_follows_vary_by() -> None:
    """--vary-by shared counts every request in one key, as the server should bucket them."""
    from mmload.harness.users import SHARED_KEY, identity

    def key(vary_by: str) -> str:
        settings: Any = SimpleNamespace(vary_by=vary_by)
        return identity("addr:a", "user:u", settings).split("|")[0]

    assert (key("address"), key("user"), key("shared")) == ("addr:a", "user:u", SHARED_KEY)


def test_an_account_may_be_marked_disposable(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("a,pw\nb,pw,mmload,disposable\nc,pw,,\n")
    assert [x.disposable for x in accounts.load(path)] == [False, True, False]
    assert all(x.disposable for x in accounts.seeded(2))  # the reference server's own
    path.write_text("a,pw,mmload,yes\n")
    with pytest.raises(accounts.AccountsError, match="'disposable'"):
        accounts.load(path)
