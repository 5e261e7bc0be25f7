"""A subpackage that is also an API verb: `edgelat.search(...)` and `edgelat.devices()`.

`edgelat.search` is the search subpackage, and Python sets that attribute whenever it is imported,
so a function of the same name on the package would be replaced by the module. Instead the module
itself is made callable: calling it calls the verb, named as "module:attr" (so no import edge points
up from the subpackage to the API); everything else about it stays a plain module.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class VerbModule(types.ModuleType):
    """A module whose call is `__verb__` ("module:attr"), imported on first call."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module, attr = self.__verb__.split(":")
        return getattr(importlib.import_module(module), attr)(*args, **kwargs)


def make_callable(module_name: str, verb: str) -> None:
    """Let the module `module_name` be called as the function `verb` ("module:attr")."""
    module = sys.modules[module_name]
    module.__class__ = VerbModule
    module.__verb__ = verb
