"""Options a run would ignore are refused (exit 2, one line), the same in ``mmload run``
(``launch.check_options``) and in a plain ``locust -f`` run (``plugin.check_options``); checked
here without starting anything."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from locust.env import Environment

from mmload.exitcodes import ExitStatus
from mmload.harness import accounts, plugin
from mmload.harness.scenarios.bypass import Bypass
from mmload.harness.scenarios.hammer import Hammer
from mmload.harness.scenarios.mixed import Mixed
from mmload.harness.scenarios.polite import Polite
from mmload.harness.scenarios.webhook import Webhook
from mmload.launch.run import RunError, RunOptions, check_options, locust_command, locust_env
from mmload.options import add_arguments

HOST = "http://127.0.0.1:9"  # never reached: every case is refused before


def refused(options: RunOptions, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(RunError) as exc:
        check_options(options, environ or {})
    assert exc.value.status == ExitStatus.USAGE
    return str(exc.value)


@pytest.mark.parametrize(
    ("given", "flag"),
    [
        ({"accounts": "5"}, "--accounts"),
        ({"api": "v1"}, "--api"),
        ({"api": "v4"}, "--api"),  # given, even as the default
        ({"password": "pw"}, "--password"),
    ],
)
@pytest.mark.parametrize("host", ["", HOST])
def test_mmload_run_refuses_login_options_with_webhook(
    given: dict[str, Any], flag: str, host: str
) -> None:
    """``mmload run --scenario webhook``, with a host or without, refuses ``--accounts``,
    ``--api`` and ``--password``: they are for the scenarios that log in."""
    options = dataclasses.replace(RunOptions(host=host, scenario="webhook", hook_id="h"), **given)
    message = refused(options)
    assert message.startswith("webhook would ignore " + flag)
    assert "for the scenarios that log in" in message


def test_mmload_run_refuses_a_password_from_the_environment_with_webhook() -> None:
    message = refused(RunOptions(scenario="webhook"), {"MMLOAD_PASSWORD": "pw"})
    assert "would ignore --password (or MMLOAD_PASSWORD)" in message


@pytest.mark.parametrize("scenario", ["polite", "mixed", "probe", "hammer", "ramp"])
def test_mmload_run_refuses_rate_factor_where_it_does_nothing(scenario: str) -> None:
    message = refused(RunOptions(scenario=scenario, rate_factor=2.0))
    assert message == f"{scenario} would ignore --rate-factor: it is for steady, webhook"


def accounts_csv(tmp_path: Path) -> str:
    path = tmp_path / "accounts.csv"
    path.write_text("alice,pw-a\nbob,pw-b\n")
    return str(path)


@pytest.mark.parametrize("environ", [{}, {"MMLOAD_PASSWORD": "pw"}])
def test_a_password_beside_an_accounts_file_for_a_host_is_refused(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    """A password (--password or MMLOAD_PASSWORD) beside an accounts file for a host is
    refused, not ignored: the file holds the passwords."""
    password = "" if environ else "x"
    options = RunOptions(host=HOST, accounts=accounts_csv(tmp_path), password=password)
    assert refused(options, environ) == accounts.FILE_PASSWORDS


def test_without_host_the_password_is_the_embedded_servers_and_locust_never_sees_it(
    tmp_path: Path,
) -> None:
    options = RunOptions(accounts=accounts_csv(tmp_path), password="pw")
    check_options(options, {})  # it seeds the embedded server's accounts: it acts
    server, locust = locust_env(options)
    assert server["MMLOAD_PASSWORD"] == "pw" and "MMLOAD_PASSWORD" not in locust
    server, locust = locust_env(RunOptions(accounts="3", password="pw"))
    assert server["MMLOAD_PASSWORD"] == locust["MMLOAD_PASSWORD"] == "pw"


def test_webhook_is_launched_without_login_options(tmp_path: Path) -> None:
    command = locust_command(RunOptions(scenario="webhook", hook_id="secret-hook"), HOST, tmp_path)
    assert "--api" not in command and "--accounts" not in command
    # the hook id goes in the environment (MMLOAD_HOOK_ID), never where ps shows it
    assert "--hook-id" not in command and "secret-hook" not in command
    command = locust_command(RunOptions(scenario="hammer", users=3), HOST, tmp_path)
    assert command[command.index("--api") + 1] == "v4"
    assert command[command.index("--accounts") + 1] == "3"


def test_mmload_run_hands_the_refusal_statuses_to_locust(tmp_path: Path) -> None:
    command = locust_command(RunOptions(), HOST, tmp_path)
    assert command[command.index("--limited-status") + 1] == "429"
    command = locust_command(RunOptions(limited_status=(429, 503)), HOST, tmp_path)
    assert command[command.index("--limited-status") + 1] == "429,503"


def parsed(*argv: str) -> argparse.Namespace:
    """As Locust parses mmload's options (the same defaults)."""
    parser = argparse.ArgumentParser()
    add_arguments(parser, locust=False)
    return parser.parse_args(list(argv))


def locust_check(user: type, *argv: str, capsys: Any) -> str:
    """What the plain-locust path says before exiting 2; "" when it lets the run start."""
    environment = Environment(user_classes=[user], parsed_options=parsed(*argv), host=HOST)
    try:
        plugin.check_options(environment)
    except SystemExit as exc:
        assert exc.code == ExitStatus.USAGE
        err: str = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1
        return err
    return ""


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--accounts", "5"], "--accounts"),
        (["--api", "v1"], "--api"),
        (["--password", "pw"], "--password"),
    ],
)
def test_plain_locust_refuses_login_options_with_webhook(
    argv: list[str], flag: str, capsys: Any
) -> None:
    err = locust_check(Webhook, "--hook-id", "h", *argv, capsys=capsys)
    assert f"webhook would ignore {flag}" in err


@pytest.mark.parametrize("user", [Polite, Mixed])
def test_plain_locust_refuses_rate_factor_with_polite_and_mixed(user: type, capsys: Any) -> None:
    err = locust_check(user, "--accounts", "2", "--rate-factor", "2", capsys=capsys)
    assert "would ignore --rate-factor" in err


def test_plain_locust_refuses_a_password_beside_an_accounts_file(
    tmp_path: Path, capsys: Any
) -> None:
    file = accounts_csv(tmp_path)
    err = locust_check(Hammer, "--accounts", file, "--password", "pw", capsys=capsys)
    assert accounts.FILE_PASSWORDS in err
    assert locust_check(Hammer, "--accounts", file, capsys=capsys) == ""
    assert locust_check(Hammer, "--accounts", "2", "--password", "pw", capsys=capsys) == ""
    assert locust_check(Webhook, "--hook-id", "h", capsys=capsys) == ""


def test_a_limit_keyed_on_users_is_refused_for_a_scenario_that_logs_in_to_nothing(
    capsys: Any,
) -> None:
    """``--vary-by user`` is refused for webhook, by mmload run and by Locust alike: it logs in
    to nothing, so no user could have that scope.  A scenario that logs in takes it."""
    message = refused(RunOptions(scenario="webhook", vary_by="user"))
    assert "logs in to nothing" in message and "--vary-by user" in message
    err = locust_check(Webhook, "--hook-id", "h", "--vary-by", "user", capsys=capsys)
    assert "--vary-by user is for the scenarios that log in" in err
    assert locust_check(Hammer, "--accounts", "2", "--vary-by", "user", capsys=capsys) == ""


def test_mmload_run_writes_into_a_run_dir_only_when_new_or_empty(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "run.json").write_text("{}")
    message = refused(RunOptions(run_dir=str(tmp_path / "used")))
    assert message.startswith(f"--run-dir {tmp_path / 'used'}: not a new or empty folder")
    (tmp_path / "empty").mkdir()
    check_options(RunOptions(run_dir=str(tmp_path / "empty")), {})  # not refused
    check_options(RunOptions(run_dir=str(tmp_path / "new")), {})


def test_mmload_run_hands_max_records_and_prometheus_to_locust(tmp_path: Path) -> None:
    options = RunOptions(max_records=50, prometheus_port=9999, prometheus_linger=2.5)
    cmd = locust_command(options, HOST, tmp_path)
    assert cmd[cmd.index("--max-records") + 1] == "50"
    assert cmd[cmd.index("--prometheus-port") + 1] == "9999"
    assert cmd[cmd.index("--prometheus-linger") + 1] == "2.5"
    assert "--prometheus-host" not in cmd and "--max-records" not in locust_command(
        RunOptions(), HOST, tmp_path
    )


def test_prometheus_host_or_linger_without_the_port_is_refused() -> None:
    assert "act on --prometheus-port" in refused(RunOptions(prometheus_linger=3.0))
    assert "act on --prometheus-port" in refused(RunOptions(prometheus_host="0.0.0.0"))


def test_mmload_run_refuses_an_exit_code_on_error_for_locust() -> None:
    for extra in (["--exit-code-on-error", "1"], ["--exit-code-on-error=0"]):
        assert "--exit-code-on-error would be ignored" in refused(RunOptions(extra=extra))


def test_mmload_run_hands_the_bypassable_keyings_to_its_reference_server() -> None:
    from mmload.cli import build_parser
    from mmload.cli.run import server_args

    args = build_parser().parse_args(["run", "--server-trust-forwarded", "--server-per-route"])
    assert server_args(args) == ["--trust-forwarded", "--per-route"]
    assert server_args(build_parser().parse_args(["run"])) == []


def test_the_bypass_audit_is_refused_over_several_processes(capsys: Any) -> None:
    """One user audits and the folder is written where it runs: over several processes the
    audit would leave no bypass.json and lock the others' account out."""
    assert "runs in one process" in refused(RunOptions(scenario="bypass", processes=2))
    check_options(RunOptions(scenario="bypass"), {})  # not refused
    check_options(RunOptions(scenario="hammer", processes=2), {})
    environment = Environment(user_classes=[Bypass], parsed_options=parsed("--accounts", "1"))
    environment.host = HOST
    master = environment.create_master_runner("127.0.0.1", 0)
    try:
        plugin.check_options(environment)
    except SystemExit as exc:
        assert exc.code == ExitStatus.USAGE
    else:
        raise AssertionError("a master of the bypass audit was let start")
    finally:
        master.quit()
    assert "runs in one process" in capsys.readouterr().err
    alone = Environment(user_classes=[Bypass], parsed_options=parsed("--accounts", "1"), host=HOST)
    plugin.check_options(alone)  # one process: it starts
