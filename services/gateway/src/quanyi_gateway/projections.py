"""The gateway keeps no projections: it records no events of its own.

Its accounts, revoked tokens and partner nonces are plain tables, as issue 6 allows for the gateway's
accounts and tokens; its catalogue cache lives in memory and is rebuilt from inventory at start. `quanyi
replay gateway` therefore has nothing to rebuild.
"""

from __future__ import annotations

from quanyi_platform.projection import Projection

PROJECTIONS: tuple[Projection, ...] = ()
