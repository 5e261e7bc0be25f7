"""The one progress protocol every long step reports through (the CLI draws it as a bar)."""

from __future__ import annotations

from typing import Any, Protocol


class Progress(Protocol):
    """Phases of known or unknown length, their advance, and one-line notes and warnings."""

    def phase(self, name: str, total: int) -> None: ...
    def advance(self, done: int, total: int, info: dict[str, Any]) -> None: ...
    def note(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...


class NullProgress:
    """Reports nothing: the default where no one is watching (tests, library calls)."""

    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, done: int, total: int, info: dict[str, Any]) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass
