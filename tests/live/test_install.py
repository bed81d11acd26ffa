"""``pip install .`` gives a working mmload: a wheel of the repository, installed (not editable)
into a fresh virtualenv, runs ``mmload run`` and finds every scenario's locustfile inside the
installed package, with the repository nowhere on ``sys.path``.

Offline, as the tests run, so:

- the wheel is built from a copy of the repository's files (git's, or the tree without the
  virtualenv and results) by this interpreter's pip with ``--no-build-isolation
  --check-build-dependencies``: the build backend is this virtualenv's setuptools (which
  ``[build-system]`` names and the test extras install, at 70.1 or later: older ones need the
  ``wheel`` package to build one), where build isolation would have put one in a throwaway
  environment. Not the fresh virtualenv's: ``ensurepip`` gives it setuptools 65.5 and no
  ``wheel`` with Python 3.11, no setuptools at all from 3.12. The copy keeps the build's
  leftovers (``build/``, ``*.egg-info``) out of the repository;
- the fresh virtualenv (``python -m venv``, with pip) installs that wheel with ``--no-index
  --no-deps``, and sees mmload's dependencies through one ``.pth`` line naming a directory of
  links: to the files of the distributions mmload's wheel requires, and theirs in turn, as
  installed in this virtualenv, and nothing else (so a dependency the wheel does not declare is
  missing there, as it would be after ``pip install .``; ``pip check`` must find every
  requirement met);
- every command runs from a directory outside the repository, without PYTHONPATH, pip's
  configuration or a virtualenv's variables.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mmload.exitcodes import ExitStatus
from mmload.options import NAMES
from tests.support.runs import REPO

TIMEOUT_S = 120
LEFT_OUT = (".git", ".venv", "results", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")


def without_pip_settings(env: dict[str, str]) -> dict[str, str]:
    """pip with no configuration: no index, no links but those given."""
    env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def clean_env() -> dict[str, str]:
    """This environment without what would put the repository or another virtualenv on the path
    (or change what mmload and Locust do)."""
    return without_pip_settings(
        {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "MMLOAD_", "LOCUST_")) and k != "VIRTUAL_ENV"
        }
    )


def sh(
    *argv: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in ``cwd``, with ``clean_env()`` unless told otherwise."""
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"{proc.args}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


def copy_of_the_repository(to: Path) -> Path:
    """The repository's files as a clone has them (git's list, with files not yet committed), or
    the tree without what a build or a run leaves."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:
        shutil.copytree(REPO, to, ignore=shutil.ignore_patterns(*LEFT_OUT))
        return to
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)
    return to


def requirements_closure(requires: list[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``requires`` names (extras and other platforms' left out), and
    the ones they require in turn; each must meet its requirement."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = [Requirement(r) for r in requires]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name in found:
            continue
        dist = importlib.metadata.distribution(req.name)
        assert req.specifier.contains(dist.version, prereleases=True), (str(req), dist.version)
        found[name] = dist
        todo += [Requirement(r) for r in dist.requires or []]
    return list(found.values())


def link_distributions(dists: list[importlib.metadata.Distribution], to: Path) -> None:
    """Links in ``to`` to each top-level file and folder of the distributions (their packages,
    modules, shared libraries and .dist-info), as installed here."""
    to.mkdir()
    for dist in dists:
        assert dist.files is not None, f"{dist.metadata['Name']} lists no files"
        for top in {f.parts[0] for f in dist.files} - {"..", "__pycache__"}:
            target = Path(str(dist.locate_file(top)))
            if target.exists() and not (to / top).exists():
                (to / top).symlink_to(target)


def build_backend_is_installed() -> None:
    """The test extras' setuptools, which builds a wheel on its own; a virtualenv made before it
    was listed lacks it: ``make`` installs it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (wanted,) = (
        Requirement(r)
        for r in project["optional-dependencies"]["test"]
        if Requirement(r).name == "setuptools"
    )
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        version = "none"
    if not wanted.specifier.contains(version):
        pytest.fail(f"the test extras' {wanted} builds the wheel; here: {version}: run make")


def test_pip_install_gives_a_working_mmload_outside_the_repository(tmp_path: Path) -> None:
    build_backend_is_installed()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert REPO not in elsewhere.parents

    # the wheel, built as pip install . builds it
    source = copy_of_the_repository(tmp_path / "source")
    ok(
        sh(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--check-build-dependencies",
            "--wheel-dir",
            tmp_path / "dist",
            source,
            cwd=elsewhere,
            env=without_pip_settings(dict(os.environ)),  # this interpreter's, as it runs
        )
    )
    (wheel,) = (tmp_path / "dist").glob("mmload-*.whl")

    # a fresh virtualenv with that wheel, and the dependencies it declares
    venv = tmp_path / "venv"
    ok(sh(sys.executable, "-m", "venv", venv, cwd=elsewhere))
    python = venv / "bin" / "python"
    ok(sh(python, "-m", "pip", "install", "--no-index", "--no-deps", wheel, cwd=elsewhere))
    site = Path(
        ok(
            sh(
                python,
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                cwd=elsewhere,
            )
        ).strip()
    )
    requires = json.loads(
        ok(
            sh(
                python,
                "-c",
                "import importlib.metadata as m, json; print(json.dumps(m.requires('mmload')))",
                cwd=elsewhere,
            )
        )
    )
    link_distributions(requirements_closure(requires), tmp_path / "dependencies")
    (site / "mmload-dependencies.pth").write_text(f"{tmp_path / 'dependencies'}\n")
    ok(sh(python, "-m", "pip", "check", cwd=elsewhere))

    # mmload comes from the virtualenv, and the repository is nowhere on the path
    where = json.loads(
        ok(
            sh(
                python,
                "-c",
                "import json, sys, mmload; print(json.dumps([mmload.__file__, sys.path]))",
                cwd=elsewhere,
            )
        )
    )
    assert Path(where[0]).is_relative_to(site), where[0]
    for entry in filter(None, where[1]):
        assert not Path(entry).resolve().is_relative_to(REPO.resolve()), entry
        assert not (Path(entry) / "mmload").exists() or Path(entry) == site, entry

    mmload = venv / "bin" / "mmload"
    for name in NAMES:
        printed = ok(sh(mmload, "locustfile", name, cwd=elsewhere)).strip()
        path = Path(printed)
        assert path.is_file() and path.name == f"{name}.py", printed
        assert path.is_relative_to(site) and not path.resolve().is_relative_to(REPO.resolve())

    proc = sh(mmload, "run", "-t", "5s", "--out", tmp_path / "runs", cwd=elsewhere)
    assert proc.returncode in (ExitStatus.OK, ExitStatus.NONCONFORMANT, ExitStatus.INCONCLUSIVE), (
        proc.stderr[-4000:]
    )
    folder = Path(proc.stdout.strip().splitlines()[-1])
    assert folder.parent == tmp_path / "runs", proc.stdout
    for name in ("report.html", "verdict.json", "summary.md", "throughput.png"):
        assert (folder / name).is_file(), name
    outcome = json.loads((folder / "verdict.json").read_text())["outcome"]
    assert outcome == {0: "pass", 1: "fail", 4: "inconclusive"}[proc.returncode]
