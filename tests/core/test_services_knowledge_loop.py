"""The knowledge loop in the core, with fakes: a resolved incident and its published postmortem both go into
the org's knowledge; guidance, notices and publishing through the same subscription table bot/ wires."""

from __future__ import annotations

from collections.abc import Callable

from incident_core import postmortem_usecases as pmu
from incident_core import richtext as rt
from incident_core import usecases as uc
from incident_core.guidance import guidance_due
from incident_core.guidance_usecases import offer_guidance
from incident_core.model import Status
from incident_core.notices import notice_message
from incident_core.postmortem_render import PostmortemDocument
from incident_core.publishing import KNOWLEDGE, Publication, Publisher, targets_for
from incident_core.services.knowledge_loop import KnowledgeTarget
from incident_core.services.platforms import Platforms
from incident_core.services.subscriptions import Collaborators, subscriptions
from tests.core.fakes import FakeChat, Health, Index, Msg, NoGuidance, World, plugin


class Failing:
    def publish(self, doc: PostmortemDocument, config: dict[str, object]) -> Publication:
        raise ConnectionError("jira refused the connection")


def wired(w: World, index: Index, chats: list[FakeChat], *, publishers: dict[str, Publisher] | None = None,
          retrieved: int = 0, knows: bool = True) -> tuple[Callable[[], int], NoGuidance, Health]:
    """The subscription table over fakes, and a drain that delivers the outbox until it is empty."""
    source, health = NoGuidance(retrieved, knows=knows), Health()

    def publisher_for(target: str) -> Publisher:
        if target == KNOWLEDGE:
            return KnowledgeTarget(queries=w.queries, directory=w.directory, index=lambda: index,
                                   to_markdown=lambda rich: rich.plain())
        return (publishers or {})[target]

    c = Collaborators(deps=w.deps, queries=w.queries, deliveries=w.deliveries, guidance=lambda: source,
                      knowledge=lambda: index, feedback=None, health=health, publisher_for=publisher_for,
                      narrator=None, history=None, tracker_for=lambda _o: None)  # type: ignore[arg-type]
    labels = {"slack": "Slack", "teams": "Teams"}
    subs = subscriptions(c, Platforms([plugin(chat, labels[chat.platform]) for chat in chats]))

    def drain() -> int:
        delivered = 0
        while w.store.outbox:
            org_id, message = w.store.outbox.pop(0)
            for fn in subs.get(message.topic, []):
                try:
                    fn(Msg(org_id, dict(message.payload), key=message.key, topic=message.topic))
                except ConnectionError:
                    pass  # the outbox would retry it; the test looks at what was said meanwhile
            delivered += 1
        return delivered

    return drain, source, health


def test_a_resolved_incident_is_learned_from() -> None:
    w = World()
    index = Index()
    drain, source, health = wired(w, index, [FakeChat("slack")])
    project = w.project("checkout")
    incident = uc.declare_incident(deps=w.deps, org_id=w.org_id, actor="slack:U1", title="Checkout 5xx",
                                   project_id=project, check_role=False).state.incident_id
    drain()
    assert source.requests and index.incidents == []  # open: guidance is offered, nothing learned yet
    uc.change_status(deps=w.deps, org_id=w.org_id, incident_id=incident, actor="slack:U1", status=Status.RESOLVED)
    drain()
    assert index.incidents and index.incidents[0] == ("INC-1", "checkout")
    assert not health.failures


def test_an_org_with_nothing_indexed_is_not_searched_on_every_change_but_a_command_still_asks() -> None:
    w = World()
    drain, source, _health = wired(w, Index(), [FakeChat("slack")], knows=False)
    incident = uc.declare_incident(deps=w.deps, org_id=w.org_id, actor="slack:U1", title="Checkout 5xx",
                                   check_role=False).state.incident_id
    drain()
    uc.add_note(deps=w.deps, org_id=w.org_id, incident_id=incident, actor="slack:U1", text="db looks fine")
    drain()
    assert len(source.asked) >= 2 and set(source.asked) == {w.org_id}  # asked at each change, for this org only
    assert source.requests == []  # no query built, nothing searched: the offer stays due for when runbooks arrive
    assert guidance_due(w.queries.get(w.org_id, incident)) == "room_opened"  # type: ignore[arg-type]
    offer_guidance(deps=w.deps, queries=w.queries, source=source, org_id=w.org_id, incident_id=incident,
                   actor="slack:U1", trigger="command")
    assert len(source.requests) == 1  # `/revenant suggest` always searches, and says what it found


def test_every_postmortem_is_published_into_the_knowledge() -> None:
    assert KNOWLEDGE in targets_for({}) and KNOWLEDGE in targets_for({"publishing": {"github": {"repo": "a/b"}}})
    w = World()
    index = Index()
    drain, _source, _health = wired(w, index, [slack := FakeChat("slack")])
    incident = uc.declare_incident(deps=w.deps, org_id=w.org_id, actor="slack:U1", title="Checkout 5xx",
                                   check_role=False).state.incident_id
    uc.change_status(deps=w.deps, org_id=w.org_id, incident_id=incident, actor="slack:U1", status=Status.RESOLVED)
    drain()  # the room opens, the auto-drafter drafts once resolved
    assert pmu.view_of(w.state(incident)).status is not None
    pmu.approve_postmortem(deps=w.deps, queries=w.queries, org_id=w.org_id, incident_id=incident, actor="slack:U1")
    drain()
    ((doc_id, markdown, _project, _service),) = index.postmortems
    assert doc_id.startswith("postmortems/") and doc_id.endswith("-inc-1.md") and "Checkout 5xx" in markdown
    state = w.state(incident)
    assert KNOWLEDGE in state.postmortem.published and state.status is Status.CLOSED
    assert any("published to knowledge" in text for _room, text in slack.posts)  # the notice reached the room


def test_a_failing_target_is_reported_in_every_platforms_room() -> None:
    w = World()
    w.org_settings({"publishing": {"jira": {"project": "OPS"}}})
    drain, _source, _health = wired(w, Index(), [slack := FakeChat("slack"), teams := FakeChat("teams")],
                                    publishers={"jira": Failing()})
    incident = uc.declare_incident(deps=w.deps, org_id=w.org_id, actor="slack:U1", title="Checkout 5xx",
                                   check_role=False).state.incident_id
    uc.change_status(deps=w.deps, org_id=w.org_id, incident_id=incident, actor="slack:U1", status=Status.RESOLVED)
    drain()
    pmu.approve_postmortem(deps=w.deps, queries=w.queries, org_id=w.org_id, incident_id=incident, actor="slack:U1")
    drain()
    for chat in (slack, teams):
        assert any("to jira failed (attempt 1)" in text for _room, text in chat.posts), chat.posts


def test_guidance_and_notices_reach_each_platform_once() -> None:
    w = World()
    drain, _source, _health = wired(w, Index(), [slack := FakeChat("slack"), teams := FakeChat("teams")],
                                    retrieved=3)
    incident = uc.declare_incident(deps=w.deps, org_id=w.org_id, actor="slack:U1", title="Checkout 5xx",
                                   check_role=False).state.incident_id
    drain()
    for _ in range(2):  # a redelivered notice is posted once
        w.store.outbox.append((w.org_id, notice_message(incident, rt.doc("a reminder"), "rem:1")))
    drain()
    for chat in (slack, teams):
        assert sum(text.startswith("guidance ") and "room_opened" in text for _r, text in chat.posts) == 1
        assert [text for _r, text in chat.posts if text == "a reminder"] == ["a reminder"]


def test_the_knowledge_target_names_the_document_after_the_postmortem() -> None:
    w = World()
    index = Index()
    project = w.project("payments")
    incident = uc.declare_incident(deps=w.deps, org_id=w.org_id, actor="slack:U1", title="Card declines",
                                   project_id=project, check_role=False).state.incident_id
    doc = PostmortemDocument(org_id=w.org_id, incident_id=incident, human_id="INC-1", title="Card declines",
                             severity="SEV2", date="2026-12-01", content=rt.doc("what happened"), summary="",
                             action_items=(), approver="slack:U1")
    published = KnowledgeTarget(queries=w.queries, directory=w.directory, index=lambda: index,
                                to_markdown=lambda rich: rich.plain()).publish(doc, {})
    assert index.postmortems == [("postmortems/2026-12-01-inc-1.md", "what happened", "payments", None)]
    assert published.url == f"knowledge://{w.org_id}/postmortems/2026-12-01-inc-1" and published.ref == "2 sections"
