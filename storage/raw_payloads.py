"""Raw webhook payloads, stored once per delivery (incident_core/raw_payloads.py); signals point into them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from incident_core.raw_payloads import resolve
from storage.engine import scope_to_org
from storage.tables import TZ, JSONType

RAW_PAYLOAD_TENANT_TABLES = ("raw_payloads",)


class RawPayloadRow(SQLModel, table=True):
    """One delivery's body as received (U+0000 and lone surrogates replaced), keyed by a hash of its content."""

    __tablename__ = "raw_payloads"
    org_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=64)
    payload: Any = Field(sa_type=JSONType)
    received_at: datetime = Field(sa_type=TZ)


PAYLOADS = RawPayloadRow.__table__  # type: ignore[attr-defined]


def signal_raw(engine: Engine, org_id: str, signal: dict[str, Any]) -> Any:
    """A recorded signal's raw item: inline in rows written before payloads were stored once, else read
    from its delivery's payload (None when that payload is gone)."""
    ref = signal.get("raw_ref")
    if not ref:
        return signal.get("raw", {})
    with engine.begin() as conn:
        scope_to_org(conn, org_id)
        payload = conn.execute(sa.select(PAYLOADS.c.payload).where(
            PAYLOADS.c.org_id == org_id, PAYLOADS.c.id == ref["payload"])).scalar()
    return None if payload is None else resolve(payload, ref["pointer"])
