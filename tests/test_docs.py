"""The documentation: README.md and the mkdocs site in docs/.

The site builds with ``mkdocs build --strict``; every ``python`` block runs; every
``matcher`` command line names commands and options that exist (and the README's
runnable ones are run); the README stays short; every relative link resolves.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

import matcher  # noqa: F401  (imported from this checkout before any chdir)
from matcher.cli.app import app

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# commands another test runs end to end (tests/test_cli_match.py: demo, ~10 s)
ALREADY_RUN = {"demo"}
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*$")  # C, H, DIR, RUN_DIR: stand for the reader's files


def _blocks(page: Path, *languages: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text(encoding="utf-8"))
            if lang in languages]


def _command_lines(page: Path) -> Iterator[str]:
    for block in _blocks(page, "bash", "console", "sh", "shell"):
        for raw in re.sub(r"\\\n\s*", " ", block).splitlines():  # join `\` continuations
            line = raw.strip().removeprefix("$ ")
            if line.startswith("matcher "):
                yield line


def _page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(REPO / "mkdocs.yml"), "--site-dir", str(site)],
        capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    built = {p.relative_to(site).as_posix() for p in site.rglob("index.html")}
    expected = {"index.html"} | {f"{p.stem}/index.html" for p in DOCS.glob("*.md")
                                 if p.stem != "index"}
    assert expected <= built


PYTHON_PAGES = [p for p in PAGES if _blocks(p, "python")]


def test_pages_with_python_examples() -> None:
    names = {_page_id(p) for p in PYTHON_PAGES}
    assert {"README.md", "docs/index.md", "docs/planning.md"} <= names


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_page_id)
def test_python_examples_run(page: Path, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The blocks of one page run in order in one namespace, in an empty folder
    where ``data`` is the repository's data/."""
    (tmp_path / "data").symlink_to(REPO / "data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for i, block in enumerate(_blocks(page, "python"), start=1):
        code = compile(block, f"{_page_id(page)} python block {i}", "exec")
        exec(code, namespace)


def _parse(command: Any, name: str, args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Parse ``args`` with the command's own (click) parser: option names and arity
    are checked, values are not converted (files need not exist)."""
    parser = command.make_parser(command.context_class(command, info_name=name))
    values, rest, _order = parser.parse_args(list(args))
    return values, rest


def _resolve(line: str) -> tuple[list[str], Any, list[str]]:
    """Walk the command tree along ``line``; return the command path, the command
    and its arguments. Fails on an unknown command or option, or a missing value."""
    tokens = [t for t in shlex.split(line, comments=True)[1:] if t != "..."]
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    while hasattr(command, "commands"):  # a group: global options, then a command
        split = next((i for i, t in enumerate(tokens) if not t.startswith("-")
                      and not _takes_value(command, tokens[i - 1] if i else "")), None)
        assert split is not None, f"{line!r}: {path or ['matcher']} needs a subcommand"
        _parse(command, " ".join(["matcher", *path]), tokens[:split])
        name = tokens[split]
        assert name in command.commands, f"{line!r}: no command {name!r} in {path}"
        command, path, tokens = command.commands[name], [*path, name], tokens[split + 1:]
    _values, rest = _parse(command, " ".join(["matcher", *path]), tokens)
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    assert arguments or not rest, f"{line!r}: stray arguments {rest}"
    return path, command, tokens


def _takes_value(command: Any, token: str) -> bool:
    return any(token in p.opts and not p.is_flag and p.param_type_name == "option"
               for p in command.params)


COMMAND_LINES = [(page, line) for page in PAGES for line in _command_lines(page)]


def test_command_lines_found() -> None:
    pages = {_page_id(page) for page, _line in COMMAND_LINES}
    assert {"README.md", "docs/index.md", "docs/nightly.md", "docs/continuity.md"} <= pages


@pytest.mark.parametrize(("page", "line"), COMMAND_LINES,
                         ids=[f"{_page_id(p)}:{i}" for i, (p, _l) in enumerate(COMMAND_LINES)])
def test_command_line_parses(page: Path, line: str) -> None:
    path, _command, _args = _resolve(line)
    assert path


def test_command_line_check_fails_on_unknown_names() -> None:
    with pytest.raises(Exception, match="No such option: --childs"):
        _resolve("matcher match --childs c.csv")
    with pytest.raises(Exception, match="--out' requires an argument"):
        _resolve("matcher match --children c.csv --out")
    with pytest.raises(AssertionError, match="stray arguments"):
        _resolve("matcher match --children c.csv run")
    with pytest.raises(AssertionError, match="no command 'mtach'"):
        _resolve("matcher mtach --out run")
    with pytest.raises(AssertionError, match="needs a subcommand"):
        _resolve("matcher network")


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every README command line without a placeholder runs, in order, in one folder;
    a ``toml`` block whose first line is ``# NAME.toml`` is written to that file first."""
    monkeypatch.chdir(tmp_path)
    readme = REPO / "README.md"
    for block in _blocks(readme, "toml"):
        first = block.splitlines()[0]
        if m := re.fullmatch(r"#\s*(\S+\.toml)", first.strip()):
            (tmp_path / m.group(1)).write_text(block, encoding="utf-8")
    runner = CliRunner()
    ran = []
    for line in _command_lines(readme):
        args = shlex.split(line, comments=True)[1:]
        if any(PLACEHOLDER.match(a) for a in args) or args[0] in ALREADY_RUN:
            continue
        result = runner.invoke(app, ["--quiet", *args])
        assert result.exit_code == 0, (line, result.output, result.exception)
        ran.append(args[0])
    assert ran == ["sample", "match", "shortlist", "nightly-load", "nightly"]
    assert (tmp_path / "run" / "assignments.csv").is_file()
    assert (tmp_path / "fostermatch.gpkg").is_file()


def test_readme_is_short_and_keeps_the_test_command() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200
    # .ci/run runs "the README's test command"
    assert any("python -m pytest" in b.splitlines() for b in _blocks(REPO / "README.md", "bash"))
    assert "python -m pytest" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def _links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)
    return [target for target in LINK.findall(text)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")]


def test_relative_links_resolve() -> None:
    checked = 0
    for page in PAGES:
        for target in _links(page):
            path = (page.parent / target.split("#", 1)[0]).resolve()
            assert path.exists(), f"{_page_id(page)}: link {target} -> {path} is missing"
            checked += 1
    assert checked >= 30


def test_inputs_reference_has_one_generated_block() -> None:
    text = (DOCS / "inputs.md").read_text(encoding="utf-8")
    begin, end = "<!-- BEGIN GENERATED: tables -->", "<!-- END GENERATED: tables -->"
    assert text.count(begin) == 1 and text.count(end) == 1
    block = text[text.index(begin):text.index(end)]
    for table in ("children", "homes", "contacts", "placements", "vetoes", "decisions"):
        assert f"### `{table}`" in block


# --------------------------------------------------------------------------- municipality numbers

_QUOTED = re.compile(r"""["'](\d{4})["']""")
_LISTED = re.compile(r"--(?:clip-)?municipalities[ =](\d{4}(?:,\d{4})*)|--add[ =](\d{4}):")
_NAMED = re.compile(r"([A-ZÆØÅ][a-zæøå]+(?:-[A-ZÆØÅ][a-zæøå]+)?) \(?(\d{4})\b(?![.,]\d)")
_POOL = re.compile(r"""=\s*\[((?:\s*["']\d{4}["'],?)+)\s*\]\s*#\s*(.+)$""", re.MULTILINE)
FICTIONAL = {f"{n}" for n in range(4691, 4700)}  # the synthetic fjord sample (docs/inputs.md)


def _kommuner() -> tuple[dict[str, str], dict[str, set[str]]]:
    """2024 number -> name (data/kommuner_2024_S.geojson); name -> its 2020 numbers."""
    import json

    import pandas as pd

    features = json.loads((REPO / "data" / "kommuner_2024_S.geojson").read_text(
        encoding="utf-8"))["features"]
    names = {f["properties"]["kommunenummer"]: f["properties"]["kommunenavn"]
             for f in features}
    old = pd.read_csv(REPO / "data" / "kommunenummer_2020_2024.csv", sep=";", dtype=str)
    before: dict[str, set[str]] = {}
    for number, name in zip(old["old"], old["old_name"], strict=True):
        before.setdefault(name, set()).add(number)
    return names, before


def municipality_number_problems(text: str, where: str) -> list[str]:
    """Every municipality number of a page that is not in the 2024 polygons, or that the
    page names wrongly ("Ullensvang 4621"; a pool list whose comment names its members)."""
    names, before = _kommuner()
    known = set(names) | FICTIONAL
    problems = []
    for m in _QUOTED.finditer(text):
        if m.group(1) not in known:
            problems.append(f"{where}: \"{m.group(1)}\" is no 2024 municipality number")
    for m in _LISTED.finditer(text):
        for number in (m.group(1) or m.group(2)).split(","):
            if number not in known:
                problems.append(f"{where}: {number} is no 2024 municipality number")
    by_name = {v: k for k, v in names.items()}
    for m in _NAMED.finditer(text):
        name, number = m.groups()
        if (name in by_name or name in before) and (
                number != by_name.get(name) and number not in before.get(name, set())):
                problems.append(f"{where}: {name} is {by_name.get(name)}, not {number}")
    for m in _POOL.finditer(text):
        numbers = _QUOTED.findall(m.group(1))
        listed = [n.strip() for n in m.group(2).split(",")]
        if [names.get(n, n) for n in numbers] != listed:
            problems.append(f"{where}: {numbers} are {[names.get(n, n) for n in numbers]}, "
                            f"not {listed}")
    return problems


def test_municipality_numbers_in_readme_and_docs_exist() -> None:
    """Issue 21: every municipality number in README.md and docs/*.md is a 2024 number (or
    a fictional one of the fjord sample), matches the name written beside it, and the
    Hardanger and Voss pool lists the cooperation's own members."""
    problems = [p for page in PAGES for p in municipality_number_problems(
        page.read_text(encoding="utf-8"), page.name)]
    assert problems == []
    scoring = (DOCS / "scoring.md").read_text(encoding="utf-8")
    assert 'hardanger_voss = ["4618", "4619", "4620", "4621", "4622"]' in scoring


def test_municipality_number_check_can_fail() -> None:
    """The errors of issue 21 are found: a pool with Samnanger and Bjørnafjorden in it named
    as Hardanger and Voss, a number that does not exist, a name beside the wrong number."""
    old = ('hardanger_voss = ["4621", "4622", "4623", "4624"]  '
           '# Ullensvang, Eidfjord, Ulvik, Voss, Kvam')
    assert len(municipality_number_problems(old, "x")) == 1
    assert municipality_number_problems('oslo = ["0300"]', "x") == [
        'x: "0300" is no 2024 municipality number']
    assert municipality_number_problems("Ullensvang 4621 and Asker 3025", "x") == [
        "x: Ullensvang is 4618, not 4621"]
    assert municipality_number_problems("--clip-municipalities 4626,1234", "x") == [
        "x: 1234 is no 2024 municipality number"]
