"""Each row of issue 14's table, over real HTTP with vendor payloads from the corpus."""

from __future__ import annotations

import copy
from pathlib import Path

import sqlalchemy as sa

from bot.org_config import apply_org_config
from storage.engine import scope_to_org
from storage.unit_of_work import OUTBOX
from tests.handlers.conftest import Server
from tests.signals.vendor_corpus import load


def payload(source: str, name: str) -> dict:
    return copy.deepcopy(load(source, name)["payload"])


def timeline(server: Server, org_id: str, ref: str) -> list[str]:
    from incident_core.timeline import describe

    state = server.app.queries.get(org_id, ref)
    assert state is not None
    return [f"{e.type_name}: {describe(e)}" for e in server.app.queries.timeline(org_id, state.incident_id)]


def notices(server: Server, org_id: str) -> list[str]:
    with server.app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        rows = conn.execute(sa.select(OUTBOX.c.key).where(OUTBOX.c.org_id == org_id, OUTBOX.c.topic == "chat.notice"))
        return [r.key for r in rows]


async def test_pagerduty_updates_attach_to_the_incident_of_data_incident_id(server: Server) -> None:
    org_id, token = server.org()
    status, body = await server.post("pagerduty", payload("pagerduty", "triggered"), token)
    assert status == 202 and body["incident_ids"] == ["INC-1"]
    for event in ("responder_added", "responder_replied", "annotated", "status_update_published", "acknowledged",
                  "reassigned", "priority_updated"):
        status, body = await server.post("pagerduty", payload("pagerduty", event), token)
        assert status == 202, (event, body)
        assert body["incident_ids"] == ["INC-1"], event
        assert body["signals"][0]["action"] == "attach", event
    lines = timeline(server, org_id, "INC-1")
    updates = [line for line in lines if "update from pagerduty" in line]
    assert len(updates) == 7
    assert any("PagerDuty note by Tenex Engineer: I sure am glad we are using PagerDuty!" in u for u in updates)
    assert any("PagerDuty status update by Tenex Engineer: A fix for this incident is being developed" in u
               for u in updates)
    assert any("PagerDuty responder requested: Maeve (pending)" in u for u in updates)
    ack = next(line for line in lines if "acknowledged" in line)
    assert "signal firing" not in ack, "an acknowledgement must not read like a re-trigger"
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None and state.firing == ("PGR0VU2",), "updates never count as firing signals"


async def test_pagerduty_update_for_an_unknown_incident_is_202_with_its_reason(server: Server) -> None:
    org_id, token = server.org()
    status, body = await server.post("pagerduty", payload("pagerduty", "annotated"), token)
    assert status == 202 and body["incident_ids"] == []
    assert body["signals"][0]["action"] == "ignore" and "a change never opens one" in body["signals"][0]["reason"]


async def test_datadog_default_payload_opens_then_recovers(server: Server) -> None:
    org_id, token = server.org()
    status, body = await server.post("datadog", payload("datadog", "default_payload"), token)
    assert status == 202 and body["incident_ids"] == ["INC-1"], body
    status, body = await server.post("datadog", payload("datadog", "default_payload_recovered"), token)
    assert status == 202 and body["signals"][0]["action"] == "update_only"
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None and state.title == "Host is Down" and state.all_clear_at is not None


async def test_grafana_value_string_feeds_the_trend(server: Server) -> None:
    org_id, token = server.org()
    await server.post("grafana", payload("grafana", "legacy_value_string"), token)
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None
    assert [(name, value) for _, name, value in state.metric_points] == [
        ("value", 14151.331895396988), ("value", 47043.702386305304)]


async def test_crash_looping_in_two_namespaces_is_two_incidents(server: Server) -> None:
    org_id, token = server.org()
    for name in ("crashloop_shop", "crashloop_billing"):
        body = payload("alertmanager", name)
        body.pop("groupKey")  # scoping alone keeps them apart, not only the sender's groups
        status, answer = await server.post("alertmanager", body, token)
        assert status == 202 and answer["signals"][0]["action"] == "open", answer
    shop, billing = server.app.queries.get(org_id, "INC-1"), server.app.queries.get(org_id, "INC-2")
    assert shop is not None and billing is not None
    assert shop.title == "KubePodCrashLooping — Pod is crash looping (shop/checkout-7d9f)"
    assert billing.title == "KubePodCrashLooping — Pod is crash looping (billing/invoicer-5c6d)"


async def test_the_exporters_service_label_does_not_merge_namespaces(server: Server) -> None:
    """kube-state-metrics series carry the exporter's own `service` label in every namespace."""
    org_id, token = server.org()
    for name in ("crashloop_shop", "crashloop_billing"):
        body = payload("alertmanager", name)
        body.pop("groupKey")
        body["alerts"][0]["labels"].update(service="kube-prometheus-stack-kube-state-metrics", endpoint="http")
        status, answer = await server.post("alertmanager", body, token)
        assert status == 202 and answer["signals"][0]["action"] == "open", answer
    billing = server.app.queries.get(org_id, "INC-2")
    assert billing is not None and billing.title == "KubePodCrashLooping — Pod is crash looping (billing/invoicer-5c6d)"
    assert not billing.services


async def test_a_second_pod_in_the_same_namespace_joins_and_the_reason_names_the_scope(server: Server) -> None:
    _, token = server.org()
    await server.post("alertmanager", payload("alertmanager", "crashloop_shop"), token)
    other = payload("alertmanager", "crashloop_shop")
    other.pop("groupKey")
    other["alerts"][0].update(fingerprint="ffff000011112222")
    other["alerts"][0]["labels"]["pod"] = "checkout-8e0a"
    _, answer = await server.post("alertmanager", other, token)
    assert answer["signals"][0]["action"] == "attach"
    assert "alertname+scope=KubePodCrashLooping//shop" in answer["signals"][0]["reason"]


async def test_grafana_docs_group_is_one_incident_unless_routing_says_otherwise(server: Server,
                                                                                tmp_path: Path) -> None:
    org_id, token = server.org()
    status, body = await server.post("grafana", payload("grafana", "docs_example"), token)
    assert status == 202 and body["incident_ids"] == ["INC-1"]
    assert [s["action"] for s in body["signals"]] == ["open", "attach"]
    assert "sender_group=" in body["signals"][1]["reason"]

    other_org, other_token = server.org()
    (tmp_path / "org.yaml").write_text("routing:\n  default_project: ops\n  projects:\n"
                                       "    - name: ops\n      sender_groups: false\n")
    apply_org_config(server.app, other_org, tmp_path / "org.yaml")
    _, body = await server.post("grafana", payload("grafana", "docs_example"), other_token)
    assert [s["action"] for s in body["signals"]] == ["open", "open"]


async def test_all_clear_when_every_alert_resolved_posted_once(server: Server) -> None:
    org_id, token = server.org()
    await server.post("grafana", payload("grafana", "docs_example"), token)
    resolved = payload("grafana", "docs_example_resolved")
    first, second = copy.deepcopy(resolved), copy.deepcopy(resolved)
    first["alerts"], second["alerts"] = resolved["alerts"][:1], resolved["alerts"][1:]
    await server.post("grafana", first, token)
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None and state.all_clear_at is None, "one alert still fires"
    await server.post("grafana", second, token)
    _, again = await server.post("grafana", second, token)  # a redelivery
    assert again["signals"][0]["duplicate"]
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None and state.all_clear_at is not None
    assert state.all_clear_reason == "all 2 signals that fired have resolved"
    assert state.status.value == "triggered", "all clear offers the move; a person makes it"
    lines = timeline(server, org_id, "INC-1")
    assert sum(line.startswith("AllClearReached") for line in lines) == 1
    assert len([k for k in notices(server, org_id) if k.startswith("all-clear:")]) == 1


async def test_pagerduty_resolved_is_all_clear(server: Server) -> None:
    org_id, token = server.org()
    await server.post("pagerduty", payload("pagerduty", "triggered"), token)
    await server.post("pagerduty", payload("pagerduty", "resolved"), token)
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None and state.all_clear_at is not None
    assert "PagerDuty" in state.all_clear_reason and "Tenex Engineer" in state.all_clear_reason


async def test_an_alert_firing_again_takes_the_all_clear_back(server: Server) -> None:
    org_id, token = server.org()
    await server.post("alertmanager", payload("alertmanager", "crashloop_shop"), token)
    await server.post("alertmanager", payload("alertmanager", "crashloop_shop_resolved"), token)
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None and state.all_clear_at is not None
    refire = payload("alertmanager", "crashloop_shop")
    refire["alerts"][0]["startsAt"] = "2026-01-15T10:30:07.701Z"
    await server.post("alertmanager", refire, token)
    state = server.app.queries.get(org_id, "INC-1")
    assert state is not None and state.all_clear_at is None and state.firing == ("a1b2c3d4e5f60718",)
