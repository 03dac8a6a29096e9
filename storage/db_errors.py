"""Which database errors mean "the database is not answering", translated into StoreUnavailable."""

from __future__ import annotations

import logging

import psycopg
import sqlalchemy.exc as sa_exc

from incident_core.errors import StoreUnavailable

log = logging.getLogger("revenant.db")

# Connection exceptions (08…), shutdowns (57P01-3), too many connections, statement and lock timeouts.
_UNAVAILABLE = frozenset({"57P01", "57P02", "57P03", "53300", "53400", "57014", "55P03"})


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that say the database is down, unreachable, frozen or too busy to answer."""
    if isinstance(exc, StoreUnavailable | sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None)
    if state:
        return state.startswith("08") or state in _UNAVAILABLE
    return isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError)


def unavailable(exc: BaseException) -> StoreUnavailable:
    """The StoreUnavailable to raise instead of `exc`; the cause is logged, never shown (it names hosts)."""
    log.info("database unavailable: %s", str(getattr(exc, "orig", None) or exc).strip()[:300])
    return StoreUnavailable()
