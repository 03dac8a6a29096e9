"""Under a storm, war-room refreshes stay interleaved across orgs while refreshes of one incident coalesce
(the real outbox on SQLite and PostgreSQL)."""

from __future__ import annotations

from bot.bootstrap import App
from bot.delivery import Deliverer
from tests.helpers import new_org
from tests.storage.test_outbox_deliveries import Recorder, put

ORGS, INCIDENTS, CHANGES = 20, 3, 6


def test_refreshes_interleave_across_twenty_orgs_and_coalesce_per_incident(app: App) -> None:
    orgs = [new_org(app).org.id for _ in range(ORGS)]
    for change in range(CHANGES):  # as a storm writes them: every org's incidents change again and again
        for org in orgs:
            for incident in range(INCIDENTS):
                put(app, org, f"changed:{incident}:{change}", topic="incident.changed", incident_id=f"INC-{incident}")
    rec = Recorder("SlackRoomKeeper")
    Deliverer(app.outbox, {"incident.changed": rec.subs}, threads=1).run_pass()
    order = [(org, key) for org, key in rec.order if org in set(orgs)]
    assert len(order) == ORGS * INCIDENTS  # one refresh per incident: its other changes coalesced into it
    assert {key.split(":")[1] for _org, key in order} == {str(i) for i in range(INCIDENTS)}
    for round_ in range(INCIDENTS):  # each round serves every org once before any org gets its next refresh
        assert sorted(org for org, _key in order[round_ * ORGS:(round_ + 1) * ORGS]) == sorted(orgs), round_
    assert all(app.outbox.pending(org) == 0 for org in orgs)
