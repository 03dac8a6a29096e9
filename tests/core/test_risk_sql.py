"""SQL that only looks like a read: functions and clauses that act are never read-only."""

from __future__ import annotations

import pytest

from incident_core.risk import RiskLevel, assess


@pytest.mark.parametrize("command,level", [
    ("SELECT pg_terminate_backend(pid)\nFROM pg_stat_activity\nWHERE state = 'idle in transaction';", RiskLevel.HIGH),
    ("psql -c \"SELECT pg_terminate_backend(4242)\"", RiskLevel.HIGH),
    ("SELECT pg_cancel_backend(4242);", RiskLevel.MEDIUM),
    ("SELECT pg_reload_conf();", RiskLevel.MEDIUM),
    ("SELECT * FROM orders WHERE id = 1 FOR UPDATE;", RiskLevel.MEDIUM),
    ("SELECT * INTO backup_orders FROM orders;", RiskLevel.MEDIUM),
    ("SELECT set_config('work_mem', '1GB', false);", RiskLevel.MEDIUM),
    ("SELECT count(*), state\nFROM pg_stat_activity\nGROUP BY state;", RiskLevel.READ_ONLY),
    ("WITH t AS (SELECT 1) SELECT * FROM t;", RiskLevel.READ_ONLY),
    ("SELECT 1;\nDROP TABLE orders;", RiskLevel.HIGH),
])
def test_sql_risk(command: str, level: RiskLevel) -> None:
    assert assess("run runbook command", command).level is level
