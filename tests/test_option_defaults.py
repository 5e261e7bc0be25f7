"""Each default is written once in spirit: the CLI's options and the options dataclasses the Python API
uses agree, so `edgelat profile` and `el.profile()` (or `search`) do the same thing by default."""

import dataclasses

import click
import pytest

from edgelat.cli import cli
from edgelat.profiler.options import ProfileOptions
from edgelat.search.options import SearchOptions

RENAMED = {"device_name": "device"}  # click parameter -> dataclass field
NOT_OPTIONS = {"store_path", "top", "as_json", "adaptive", "no_export"}  # the CLI's own (printing, --no-export)


@pytest.mark.parametrize(("verb", "options"), [("profile", ProfileOptions), ("search", SearchOptions)])
def test_cli_defaults_equal_the_options_dataclass(verb, options):
    fields = {f.name: f.default for f in dataclasses.fields(options)}
    checked = 0
    ctx = click.Context(cli.commands[verb])
    for param in cli.commands[verb].params:
        name = RENAMED.get(param.name, param.name)
        if param.name in NOT_OPTIONS:
            continue
        assert name in fields, f"{verb} --{param.name}: no field of {options.__name__}"
        default = param.get_default(ctx) if not param.required else None
        unset = default is None or getattr(default, "name", None) == "UNSET"  # click >= 8.2's sentinel
        if param.required or unset or (param.multiple and default == ()):
            # no CLI default: the dataclass's is "not given" (or the CLI requires the option)
            assert param.required or fields[name] in (None, (), False), f"{verb} --{param.name}"
        else:
            assert default == fields[name], f"{verb} --{param.name}: CLI {default!r}, dataclass {fields[name]!r}"
        checked += 1
    assert checked > 20
