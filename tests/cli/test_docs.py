"""The README and docs/ hold together: the README stays short, every relative link (and anchor)
resolves, and every option written after an ``mmload`` command in code exists in that command's
parser. Reads files only: nothing is started (tests/live/test_doc_commands.py runs the commands)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from mmload.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
DOCUMENTS = [README, *PAGES]
MAX_README_LINES = 300

FENCE = re.compile(r"^ *```[^\n]*\n.*?^ *```[ \t]*$", re.M | re.S)
INLINE = re.compile(r"`[^`\n]+`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
COMMAND = re.compile(r"\bmmload (run|verify|serve|report|compare|export)\b(.*)")
OPTION = re.compile(r"(?<![\w\-])(--(?:\[no-\])?[a-z][a-z0-9-]*|-[a-zA-Z])\b")
# where an mmload command's own arguments end: -- (then Locust's), a comment, a pipe, ...
SHELL_END = re.compile(r"(?:^|\s)(?:--|#|[|&;>]+)(?=\s|$)")


def prose(text: str) -> str:
    """The text without its fenced code blocks."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(prose(path.read_text(encoding="utf-8")))}


def links(text: str) -> list[str]:
    """Link targets outside code."""
    return LINK.findall(INLINE.sub("", prose(text)))


def commands(text: str) -> list[tuple[str, str]]:
    """``(command, its arguments)`` for each ``mmload COMMAND`` in code: fenced blocks, whose
    lines continue after a backslash or on lines that start with an option or ``[``, and inline
    spans."""
    found: list[tuple[str, str]] = []
    for block in FENCE.findall(text):
        lines = block.split("\n")[1:-1]
        for i, line in enumerate(lines):
            match = COMMAND.search(line)
            if not match:
                continue
            args, j = match.group(2), i
            while j + 1 < len(lines) and (
                lines[j].rstrip().endswith("\\") or lines[j + 1].lstrip().startswith(("-", "["))
            ):
                j += 1
                args += " " + lines[j]
            found.append((match.group(1), args))
    for span in INLINE.findall(prose(text)):
        match = COMMAND.search(span.strip("`"))
        if match and span.startswith("`mmload "):
            found.append((match.group(1), match.group(2)))
    return found


def options_in(args: str) -> set[str]:
    """The options written in ``args``, up to ``--``, a comment or a shell operator; ``--[no-]X``
    is both ``--X`` and ``--no-X``."""
    end = SHELL_END.search(args)
    flags: set[str] = set()
    for flag in OPTION.findall(args[: end.start()] if end else args):
        if flag.startswith("--[no-]"):
            flags |= {"--" + flag[7:], "--no-" + flag[7:]}
        else:
            flags.add(flag)
    return flags


def accepted(command: str) -> set[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {flag for action in sub.choices[command]._actions for flag in action.option_strings}


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines: move some into docs/"


def test_every_docs_page_links_back_to_the_readme() -> None:
    assert PAGES
    for page in PAGES:
        head = page.read_text(encoding="utf-8").split("\n\n")[:2]
        assert "(../README.md)" in "\n\n".join(head), f"{page.name}: no link back to the README"


def test_the_readme_links_every_docs_page() -> None:
    linked = {
        (README.parent / link.split("#")[0]).resolve()
        for link in links(README.read_text(encoding="utf-8"))
    }
    assert [p.name for p in PAGES if p.resolve() not in linked] == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_and_anchors_resolve(path: Path) -> None:
    broken = []
    for link in links(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", link):  # https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        if not file.exists():
            broken.append(f"{link}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{link}: no heading #{anchor} in {file.name}")
    assert broken == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_options_written_after_a_command_exist(path: Path) -> None:
    unknown = []
    for command, args in commands(path.read_text(encoding="utf-8")):
        for flag in sorted(options_in(args) - accepted(command)):
            unknown.append(f"mmload {command} {flag}")
    assert unknown == []


def test_the_checks_see_what_they_should() -> None:
    text = "```sh\nmmload run --host URL \\\n    --max-records 5 -- --web-port 1 # --nope\n```\n"
    assert commands(text) == [
        ("run", " --host URL \\     --max-records 5 -- --web-port 1 # --nope")
    ]
    assert options_in(commands(text)[0][1]) == {"--host", "--max-records"}
    assert "--no-such-option" not in accepted("run") and "-u" in accepted("run")
    synopsis = "```\nmmload serve [--port 8065]\n             [--[no-]vary-by-user] [-h|--x]\n```"
    assert options_in(commands(synopsis)[0][1]) == {
        "--port",
        "--vary-by-user",
        "--no-vary-by-user",
        "-h",
        "--x",
    }
    assert options_in(" --source-ips 127.0.0.1-127.0.0.4 -u 8 | tee -a x") == {"--source-ips", "-u"}
    assert commands("see `mmload verify RUN_DIR --strict` and `mmload` alone") == [
        ("verify", " RUN_DIR --strict")
    ]
    assert slug("`mmload serve`: the reference server") == "mmload-serve-the-reference-server"
    assert links("[a](x.md) `[b](y.md)`\n```\n[c](z.md)\n```\n") == ["x.md"]
