"""The one plug-in table pattern: register / list / create, lazy entries, and the tables built on it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgelat.core.registry import Registry
from edgelat.errors import EdgelatError, OptionError


def test_register_list_create_and_refuse_unknown_or_twice():
    table: Registry[type] = Registry("widget")

    @table.register("b")
    class B:
        def __init__(self, size: int = 1):
            self.size = size

    table.register("a", dict)
    table.register("internal", list, hidden=True)
    assert table.names() == ["b", "a"] and list(table) == ["b", "a"] and "internal" in table
    assert table.create("b", size=3).size == 3 and table.get("internal") is list
    with pytest.raises(OptionError, match=r"unknown widget 'c' \(known: 'b', 'a'\)"):
        table.get("c")
    with pytest.raises(ValueError, match="widget 'a' is registered twice"):
        table.register("a", set)


def test_a_lazy_entry_is_imported_on_first_use_only():
    code = ("import sys; from edgelat.core.registry import Registry; r = Registry('x'); "
            "r.register('frac', 'fractions:Fraction'); assert 'fractions' not in sys.modules; "
            "assert r.create('frac', 1, 3) * 3 == 1; assert 'fractions' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_plug_in_table_is_a_registry_and_the_cli_offers_its_names():
    from edgelat.cli import cli
    from edgelat.devices.backends import BACKENDS
    from edgelat.predictors.registry import PREDICTORS
    from edgelat.search.signals import SIGNALS
    from edgelat.search.strategies import STRATEGIES

    for table in (BACKENDS, PREDICTORS, SIGNALS, STRATEGIES):
        assert isinstance(table, Registry) and table.names()
    params = {p.name: p for p in cli.commands["search"].params}
    assert list(params["strategy"].type.choices) == STRATEGIES.names()
    assert list(params["accuracy"].type.choices) == SIGNALS.names()
    fit_kinds = {p.name: p for p in cli.commands["fit"].params}["kind"].type.choices
    assert list(fit_kinds) == PREDICTORS.names()
    assert all(cls.kind == name for name, cls in PREDICTORS.items())  # one kind, one key


def test_an_unknown_name_is_an_edgelat_error():
    from edgelat.search.strategies import STRATEGIES

    with pytest.raises(EdgelatError, match="unknown strategy 'nope'"):
        STRATEGIES.get("nope")
