"""The context-manager protocol shared by the local infrastructure launchers."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class StartStop:
    """`with X(...) as x:` starts x and stops it on the way out, whatever happened inside."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
