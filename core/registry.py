"""One plug-in table pattern, as timm's model registry: register, list, create.

Backends, search strategies, accuracy signals and predictor kinds are each a `Registry`. An entry
is a class (or any factory), or a ``"module:attribute"`` path imported on first use, so a
plug-in with a heavy or optional dependency costs nothing until it is asked for. The CLI reads
its choices from `names()`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar

from edgelat.errors import OptionError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> plug-in. `what` names the kind of plug-in in errors ("strategy", "backend", ...)."""

    def __init__(self, what: str, error: type[Exception] = OptionError):
        self.what = what
        self.error = error
        self._entries: dict[Hashable, T | str] = {}
        self._hidden: set[Hashable] = set()

    def register(self, name: Hashable, entry: T | str | None = None, *, hidden: bool = False) -> Any:
        """Add `entry` under `name` (a class, a factory or a "module:attribute" path); without an
        entry, a decorator. `hidden` keeps it out of `names()` (internal kinds that files may hold)."""
        if entry is None:
            return lambda obj: self.register(name, obj, hidden=hidden)
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._entries[name] = entry
        if hidden:
            self._hidden.add(name)
        return entry

    def names(self) -> list[Any]:
        """The listed names, in registration order."""
        return [n for n in self._entries if n not in self._hidden]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Any]:
        return iter(self.names())

    def get(self, name: Hashable) -> T:
        """The plug-in registered as `name`; an error listing the known names otherwise."""
        if name not in self._entries:
            known = ", ".join(repr(n) for n in self.names())
            raise self.error(f"unknown {self.what} {name!r} (known: {known})")
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attribute = entry.partition(":")
            entry = self._entries[name] = getattr(importlib.import_module(module), attribute)
        return entry  # type: ignore[return-value]

    def create(self, name: Hashable, *args: Any, **kwargs: Any) -> Any:
        """The plug-in called with the arguments (a class: an instance)."""
        factory: Callable[..., Any] = self.get(name)  # type: ignore[assignment]
        return factory(*args, **kwargs)

    def items(self) -> list[tuple[Any, T]]:
        """(name, plug-in) of every entry, hidden ones included, lazy ones imported."""
        return [(n, self.get(n)) for n in list(self._entries)]
