"""Run the planner notebooks headless, as a user runs them, and keep them without outputs.

    python scripts/notebooks.py run [--html DIR] [--shots DIR] [NOTEBOOK ...]
                                  # execute; time; export HTML; screenshot the main figures
    python scripts/notebooks.py strip                             # remove stored outputs
    python scripts/notebooks.py check                             # fail if outputs are stored

``run`` executes each notebook in ``notebooks/`` with nbclient (the kernel's
working folder is ``notebooks/``, as in Jupyter), prints the seconds it took,
and fails on any error or any text a cell writes to stderr (warnings, solver
banners, log lines). With ``--html`` it writes the executed notebook as HTML
(nbconvert); with ``--shots`` it screenshots each notebook's main section
(:data:`SHOTS`) with headless Chromium as ``<notebook>.png``. The committed
notebooks carry no outputs, so a diff shows code only; the tests
(``tests/test_notebook.py``) use :func:`execute`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


SHOTS = {"1-dagens-forslag.ipynb": "## Kartet", "2-rekruttering.ipynb": "## Nabolag",
         "3-beredskap.ipynb": "## Kart", "4-stabilitet.ipynb": "## Kurver"}
"""The section of each notebook that holds its main figure (a markdown heading)."""
CHROMIUM = "/usr/bin/chromium"


def notebooks() -> list[Path]:
    """The planner notebooks, in their numbered order."""
    return sorted(NOTEBOOKS.glob("[0-9]-*.ipynb"))


def execute(path: Path | Any, *, timeout: int = 600,
            folder: Path = NOTEBOOKS) -> tuple[Any, float, list[str]]:
    """Execute one notebook headless; return it with outputs, the seconds and the problems.

    ``path`` is a notebook file or an already read notebook; the kernel runs
    in ``folder`` (``notebooks/``, where Jupyter would start it) and imports
    ``matcher`` from this checkout (``PYTHONPATH``). A problem is an error
    output or a stream written to stderr, named by cell number.
    """
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4) if isinstance(path, Path) else path
    env = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env if env else "")
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                allow_errors=True,
                                resources={"metadata": {"path": str(folder)}})
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    finally:
        if env is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env
    problems = []
    for number, cell in enumerate(nb.cells, start=1):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                problems.append(f"cell {number}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr":
                problems.append(f"cell {number} wrote to stderr: {out.text.strip()[:300]}")
    return nb, seconds, problems


def _html(nb: Any) -> str:
    from nbconvert import HTMLExporter

    body, _resources = HTMLExporter().from_notebook_node(nb)
    return str(body)


def screenshot(nb: Any, heading: str, png: Path, *, width: int = 1100) -> None:
    """Screenshot one section (``heading`` to the next ``## ``) of an executed notebook.

    The section is exported by nbconvert and drawn by headless Chromium; the
    white space below it is cropped.
    """
    import subprocess
    import tempfile

    from PIL import Image, ImageChops

    cells = nb.cells
    start = next(i for i, c in enumerate(cells)
                 if c.cell_type == "markdown" and c.source.startswith(heading))
    end = next((i for i in range(start + 1, len(cells)) if cells[i].cell_type == "markdown"
                and cells[i].source.startswith("## ")), len(cells))
    part = nbformat.from_dict({**nb, "cells": cells[start:end]})
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "section.html"
        page.write_text(_html(part), encoding="utf-8")
        raw = Path(tmp) / "raw.png"
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--window-size={width},4000",
                        f"--screenshot={raw}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
        image = Image.open(raw).convert("RGB")
        box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
        if box:
            image = image.crop((0, 0, width, min(image.height, box[3] + 20)))
        png.parent.mkdir(parents=True, exist_ok=True)
        image.save(png, optimize=True)


def strip(path: Path) -> bool:
    """Remove outputs and execution counts; return whether the file changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs, cell.execution_count, changed = [], None, True
        if cell.metadata.pop("execution", None) is not None:
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


def stored_outputs(path: Path) -> list[int]:
    """Numbers of the code cells that carry outputs or an execution count."""
    nb = nbformat.read(path, as_version=4)
    return [i for i, c in enumerate(nb.cells, start=1)
            if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--html", type=Path, help="write each executed notebook as HTML here")
    run.add_argument("--shots", type=Path, help="write a PNG of each main figure here")
    run.add_argument("paths", nargs="*", type=Path)
    sub.add_parser("strip")
    sub.add_parser("check")
    args = parser.parse_args(argv)
    if args.command == "strip":
        for path in notebooks():
            print(f"{path.name}: {'stripped' if strip(path) else 'clean'}")
        return 0
    if args.command == "check":
        bad = {p.name: stored_outputs(p) for p in notebooks()}
        bad = {k: v for k, v in bad.items() if v}
        for name, cells in bad.items():
            print(f"{name}: outputs stored in cells {cells}; run scripts/notebooks.py strip")
        return 1 if bad else 0
    failed = False
    for path in args.paths or notebooks():
        nb, seconds, problems = execute(path)
        print(f"{path.name}: {seconds:.1f} s" + (f", {len(problems)} problems" if problems
                                                  else ""))
        for p in problems:
            print("  " + p)
        failed = failed or bool(problems)
        if args.html:
            args.html.mkdir(parents=True, exist_ok=True)
            (args.html / path.with_suffix(".html").name).write_text(_html(nb), encoding="utf-8")
        if args.shots and path.name in SHOTS:
            screenshot(nb, SHOTS[path.name], args.shots / path.with_suffix(".png").name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
