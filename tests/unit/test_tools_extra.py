"""matplotlib and tqdm belong to the `tools` extra (simulate, bench): the runtime, as the
worker image installs it, imports and runs without them, and the tools say what is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from stockline import cli
from stockline.settings import Settings

MESSAGE = "stockline {} needs the tools extra: pip install 'stockline[tools]'"

# A fresh interpreter in which matplotlib and tqdm are not installed, as far as imports can
# tell (a meta path finder that refuses them); then the code under test.
_WITHOUT_TOOLS = textwrap.dedent(
    """
    import importlib.abc, sys

    class NoTools(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("matplotlib", "tqdm"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoTools())
    """
)


def without_tools(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_TOOLS + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_runtime_imports_without_the_tools() -> None:
    """Every module but the tools' own packages, the worker's and the API's among them."""
    result = without_tools(
        """
        import importlib, pkgutil
        import stockline, stockline.cli, stockline.bootstrap

        tools = ("stockline.bench.", "stockline.simulation.")
        for mod in pkgutil.walk_packages(stockline.__path__, "stockline."):
            if not mod.name.startswith(tools):
                importlib.import_module(mod.name)
        assert "matplotlib" not in sys.modules and "tqdm" not in sys.modules
        """
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", ["bench", "simulate"])
def test_a_tool_without_the_extra_says_how_to_install_it(command: str) -> None:
    result = without_tools(
        f"""
        import runpy
        sys.argv = ["stockline", "{command}"]
        runpy.run_module("stockline.cli", run_name="__main__")
        """
    )
    assert result.returncode == 1
    assert result.stderr.strip() == MESSAGE.format(command)


@pytest.mark.parametrize("missing", cli.TOOLS_EXTRA)
@pytest.mark.parametrize("command", ["bench", "simulate"])
def test_either_missing_package_stops_a_tool_before_it_starts(
    monkeypatch: pytest.MonkeyPatch, command: str, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # None there: importing it fails
    args = cli.build_parser().parse_args([command])
    with pytest.raises(SystemExit, match=r"^stockline \w+ needs the tools extra") as stopped:
        args.run(Settings(), args)
    assert str(stopped.value) == MESSAGE.format(command)


def test_rebuild_reports_progress_in_plain_lines_without_tqdm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    bar = cli._rebuild_bar()
    bar.total = 2_000
    bar.update(1_500)
    bar.close()
    assert capsys.readouterr().err.splitlines()[-1] == "rebuild: 1,500/2,000 events"
