"""Projections of an incident's signal tail: rows appended as signals attach and capped by SQL.

They hold what the state document kept in growing lists (recent signals, metric points, log lines);
the incident's correlation keys are `incident_keys` (storage/tables.py). Reading a state joins them
back (storage/state_read.py); an append adds rows and updates a few columns, never a whole document.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

SIGNAL_TAIL_TENANT_TABLES = ("incident_recent_signals", "incident_metric_points", "incident_log_lines")


class RecentSignalRow(SQLModel, table=True):
    """One of an incident's last MAX_RECENT_SIGNALS signals; `seq` is its ordinal (the signal count)."""

    __tablename__ = "incident_recent_signals"
    incident_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    org_id: str = Field(foreign_key="organizations.id", max_length=64)
    source: str | None = Field(default=None, sa_type=sa.Text)
    kind: str | None = Field(default=None, sa_type=sa.Text)
    status: str | None = Field(default=None, sa_type=sa.Text)
    severity: str | None = Field(default=None, sa_type=sa.Text)
    title: str | None = Field(default=None, sa_type=sa.Text)
    service: str | None = Field(default=None, sa_type=sa.Text)
    fingerprint: str | None = Field(default=None, sa_type=sa.Text)
    at: str = Field(sa_type=sa.Text)


class MetricPointRow(SQLModel, table=True):
    """One of an incident's last MAX_METRIC_POINTS metric points; `seq` = signal ordinal × slots + index."""

    __tablename__ = "incident_metric_points"
    incident_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True, sa_type=sa.BigInteger)
    org_id: str = Field(foreign_key="organizations.id", max_length=64)
    at: str = Field(sa_type=sa.Text)
    name: str = Field(sa_type=sa.Text)
    value: float


class LogLineRow(SQLModel, table=True):
    """A log line of an incident and how often it came (at most MAX_LOG_LINES lines per incident)."""

    __tablename__ = "incident_log_lines"
    incident_id: str = Field(primary_key=True, max_length=64)
    line: str = Field(primary_key=True, sa_type=sa.Text)
    org_id: str = Field(foreign_key="organizations.id", max_length=64)
    count: int
