"""Arguments a command would ignore are refused (exit 2, one line), in-process: nothing is
started, served or read."""

from __future__ import annotations

import io

import pytest

from mmload.cli import build_parser, main
from mmload.cli.serve import ignored_without_limiting
from mmload.exitcodes import ExitStatus


def refused(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert main(list(argv), out, err) == ExitStatus.USAGE
    assert out.getvalue() == "" and len(err.getvalue().strip().splitlines()) == 1
    return err.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "RUN"],
        ["report", "RUN"],
        ["compare", "RUN", "OTHER"],
        ["export", "RUN"],
        ["serve", "--port", "0"],
    ],
)
def test_commands_refuse_arguments_after_the_separator(argv: list[str]) -> None:
    """``mmload verify|report|compare|export|serve ... -- foo`` is refused, naming what follows
    ``--``, rather than ignoring it."""
    err = refused(*argv, "--", "foo", "--bar")
    assert err == f"mmload {argv[0]}: takes no arguments after --: foo --bar\n"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--per-sec", "5"], "--per-sec"),
        (["--max-burst", "10"], "--max-burst"),
        (["--memory-store-size", "10000"], "--memory-store-size"),  # given, even as the default
        (["--algorithm", "gcra"], "--algorithm"),
        (["--dialect", "ietf"], "--dialect"),
        (["--fault", "lax"], "--fault"),
        (["--vary-by-user"], "--vary-by-user"),
        (["--no-vary-by-remote-addr"], "--no-vary-by-remote-addr"),
        (["--vary-by-header", "X-Key"], "--vary-by-header"),
    ],
)
def test_serve_without_limiting_refuses_the_limiters_options(argv: list[str], named: str) -> None:
    """``mmload serve --no-rate-limit`` refuses every option of the limiter it turns off
    (``--per-sec 5`` and the like, even one given as its default), naming it."""
    err = refused("serve", "--no-rate-limit", "--port", "0", *argv)
    says = "mmload serve: --no-rate-limit turns the limiter off, so it would ignore"
    assert err == f"{says} {named}\n"


def test_serve_takes_the_limiters_options_with_limiting_on_and_nothing_else_off() -> None:
    parser = build_parser()
    on = parser.parse_args(["serve", "--per-sec", "5", "--fault", "lax", "--vary-by-user"])
    assert ignored_without_limiting(on) == []
    assert ignored_without_limiting(parser.parse_args(["serve", "--no-rate-limit"])) == []
    both = parser.parse_args(["serve", "--no-rate-limit", "--per-sec", "5", "--fault", "lax"])
    assert ignored_without_limiting(both) == ["--per-sec", "--fault"]


@pytest.mark.parametrize("command", [["verify", "RUN"], ["run"]])
@pytest.mark.parametrize("text", ["abc", "200", "99", "600", "", "429,"])
def test_limited_status_refuses_what_is_not_an_error_status(
    command: list[str], text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One parser for mmload run, mmload verify and Locust's options: exit 2, a usage line and
    the reason, never a traceback."""
    with pytest.raises(SystemExit) as exc:
        main([*command, "--limited-status", text], io.StringIO(), io.StringIO())
    assert exc.value.code == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert f"mmload {command[0]}: error: argument --limited-status" in err
    assert "Traceback" not in err


def test_verify_takes_limited_status_and_defaults_to_what_the_run_was_told() -> None:
    parser = build_parser()
    assert parser.parse_args(["verify", "RUN"]).limited_status is None
    given = parser.parse_args(["verify", "RUN", "--limited-status", "503,429,503"])
    assert given.limited_status == (429, 503)
    assert parser.parse_args(["run"]).limited_status == (429,)
    assert parser.parse_args(["run", "--limited-status", "503"]).limited_status == (503,)
