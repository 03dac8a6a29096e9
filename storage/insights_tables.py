"""Insight tables: the recorded steps of multi-step deliveries (a tenant table, migration 0008_i17).

The row now lives in storage/delivery_tables.py beside the delivery claims; it is re-exported here.
"""

from __future__ import annotations

from storage.delivery_tables import DeliveryStepRow

INSIGHTS_TENANT_TABLES = ("delivery_steps",)

__all__ = ["INSIGHTS_TENANT_TABLES", "DeliveryStepRow"]
