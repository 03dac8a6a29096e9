"""Typed org and project settings: the stored document read by section, with the product's defaults."""

from __future__ import annotations

from datetime import timedelta

from incident_core.org_settings import DEFAULT_ARCHIVE_AFTER, ChatSettings, OrgSettings, ProjectSettings
from incident_core.ports import Org, Project


def test_an_empty_document_reads_as_the_defaults() -> None:
    s = Org(id="o", name="acme").config
    assert s == OrgSettings() and s.slack == ChatSettings() and s.archive_after == DEFAULT_ARCHIVE_AFTER
    assert s.slack.auto_channel is None and s.recurrence_window is None and not s.auto_resolves
    p = Project(id="p", org_id="o", name="web").config
    assert p.auto_channel is True and p.responders == () and p.teams_channel is None


def test_sections_are_read_with_their_types() -> None:
    s = OrgSettings.from_dict({
        "slack": {"auto_channel": True, "announce_channel": "C1"},
        "teams": {"incident_channel": "19:abc@thread.tacv2", "auto_channel": False},
        "rooms": {"archive_after_hours": 0}, "insights": {"recurrence_days": 45},
        "routing": {"projects": [{"name": "web", "auto_resolve_after_minutes": 30}]},
        "knowledge_store": {"documents": 3}, "unknown": {"kept": "in the stored document only"}})
    assert s.slack == ChatSettings(auto_channel=True, announce_channel="C1")
    assert s.teams.incident_channel == "19:abc@thread.tacv2" and s.teams.auto_channel is False
    assert s.archive_after == timedelta(0) and s.recurrence_window == timedelta(days=45) and s.auto_resolves
    assert s.knowledge_store == {"documents": 3}
    p = ProjectSettings.from_dict({"auto_channel": False, "responders": ["U1", "U2"], "teams_channel": "19:x"})
    assert (p.auto_channel, p.responders, p.teams_channel) == (False, ("U1", "U2"), "19:x")


def test_a_section_of_the_wrong_shape_reads_as_unset() -> None:
    s = OrgSettings.from_dict({"slack": "C1", "teams": None, "rooms": {"archive_after_hours": "soon"},
                               "insights": {"recurrence_days": "many"}, "routing": ["not", "a", "mapping"]})
    assert s.slack == ChatSettings() and s.teams == ChatSettings() and s.archive_after == DEFAULT_ARCHIVE_AFTER
    assert s.recurrence_window is None and s.routing == {} and not s.auto_resolves
    assert ChatSettings.from_dict({"auto_channel": "yes", "announce_channel": "  "}) == ChatSettings()


def test_an_orgs_settings_are_parsed_once_and_a_changed_document_is_a_new_org() -> None:
    org = Org(id="o", name="acme", settings={"routing": {"projects": [{"name": "web"}]}})
    assert org.config is org.config  # intake reads the routing on every delivery
    changed = Org(id="o", name="acme", settings={**org.settings, "routing": {"projects": [{"name": "api"}]}})
    assert changed.config.routing == {"projects": [{"name": "api"}]}
    assert org.config.routing == {"projects": [{"name": "web"}]} and org == Org(id="o", name="acme",
                                                                                settings=dict(org.settings))
