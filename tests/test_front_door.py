"""The front door (``import matcher as fm``) speaks one grammar (issue 26).

Every public function: the data first and positionally (inputs, tables, paths),
everything else keyword-only; ``settings`` is the whole :class:`Settings`,
keyword-only, ``Settings | None``; the road network is ``net``; a return
annotation. Results are frozen dataclasses with typed fields.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from typing import Any

import pytest

import matcher as fm
from matcher import i18n

DATA_PARAMETERS = {
    "inputs", "additions",  # validated inputs and what to add to them
    "children", "homes", "contacts", "placements", "vetoes", "families", "periods",  # tables
    "path", "osm", "folder", "out_dir", "data_dir",  # files and folders
    "lang",  # the language a `with` block speaks
    "result", "child_id",  # a result to draw or tell about, and the child it is about
}
"""Names a public function may take positionally: the data it works on."""

DEPRECATED = {("match", "network")}
"""Old names kept for one release behind a DeprecationWarning."""


def public_functions() -> dict[str, Callable[..., Any]]:
    return {name: getattr(fm, name) for name in fm.__all__
            if inspect.isfunction(getattr(fm, name))}


def grammar_problems(name: str, func: Callable[..., Any]) -> list[str]:
    """Every way ``func`` breaks the grammar (empty when it follows it)."""
    problems = []
    signature = inspect.signature(func)
    positional = True
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            problems.append(f"{name}: *{param.name} hides the parameters")
            continue
        keyword_only = param.kind is param.KEYWORD_ONLY
        if not keyword_only:
            if not positional or param.name not in DATA_PARAMETERS:
                problems.append(f"{name}: {param.name} is not data but may be positional")
        else:
            positional = False
        if param.name == "settings" and (not keyword_only
                                         or param.annotation != "Settings | None"
                                         or param.default is not None):
            problems.append(f"{name}: settings must be keyword-only Settings | None = None")
        if param.name in ("network", "road_network", "graph") \
                and (name, param.name) not in DEPRECATED:
            problems.append(f"{name}: the road network is called net, not {param.name}")
        if param.name == "net" and not keyword_only:
            problems.append(f"{name}: net must be keyword-only")
        if param.annotation is inspect.Parameter.empty:
            problems.append(f"{name}: {param.name} has no annotation")
    if signature.return_annotation is inspect.Signature.empty:
        problems.append(f"{name}: no return annotation")
    return problems


def test_the_checker_finds_each_break_of_the_grammar() -> None:
    def bad(inputs, settings=None, *, network=None):  # type: ignore[no-untyped-def]
        return inputs

    found = grammar_problems("bad", bad)
    assert "bad: settings is not data but may be positional" in found
    assert "bad: settings must be keyword-only Settings | None = None" in found
    assert "bad: the road network is called net, not network" in found
    assert "bad: no return annotation" in found
    assert "bad: inputs has no annotation" in found


def test_every_public_function_follows_the_grammar() -> None:
    functions = public_functions()
    assert {"match", "gaps", "recruit", "whatif", "emergency_coverage", "support_plan",
            "read_inputs", "build_network", "read_municipalities", "read_population",
            "language"} <= set(functions)
    problems = [p for name, func in sorted(functions.items())
                for p in grammar_problems(name, func)]
    assert problems == []


def test_functions_that_use_settings_take_them_whole() -> None:
    takes = {name for name, func in public_functions().items()
             if "settings" in inspect.signature(func).parameters}
    assert takes >= {"match", "gaps", "recruit", "whatif", "emergency_coverage",
                     "support_plan", "read_inputs", "build_network", "read_municipalities",
                     "read_population", "oslo_scenario"}


@pytest.mark.parametrize("name", ["gaps", "recruit", "whatif", "emergency_coverage",
                                  "support_plan"])
def test_planning_results_are_frozen_dataclasses_with_typed_fields(name: str) -> None:
    func = getattr(fm, name)
    result = typing.get_type_hints(func)["return"]
    assert dataclasses.is_dataclass(result), result
    assert result.__dataclass_params__.frozen, result  # type: ignore[attr-defined]
    hints = typing.get_type_hints(result)
    for field in dataclasses.fields(result):
        assert hints[field.name] is not Any, (result, field.name)


def test_language_is_exported() -> None:
    assert "language" in fm.__all__ and fm.language is i18n.language
    with fm.language("nn"):
        assert i18n.gettext("not heard") == "ikkje høyrd"
    with fm.language("nb"):
        assert i18n.gettext("not heard") == "ikke hørt"
