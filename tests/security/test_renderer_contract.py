"""Renderer contract: every Block Kit and Adaptive Card builder, and the Markdown and Jira renderers, given
hypothesis-generated hostile text in every field that comes from outside, emit nothing live from it.

"Live" is judged by models of each platform (tests/security/oracle.py): Slack's `<…>` tokens and bare
broadcasts, CommonMark links, images and HTML for Teams and GitHub, `<at>` tags, Jira's links, mentions,
images and macros. The only live things allowed are the ones the structure put there on purpose: the
people of the incident (as mentions on Slack) and the one safe link. Block Kit output is also checked
against Slack's limits (the emulator's validator), and every escape function keeps the text itself.
"""

from __future__ import annotations

import html
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulators.slack.blocks import validate_blocks, validate_view
from emulators.teams_markdown import card_tokens, tokens, visible
from handlers.slack import blocks as slack_blocks
from handlers.slack import mrkdwn
from handlers.slack import postmortem_blocks as pb
from handlers.slack import suggestion_blocks as sb
from handlers.slack.errors import explain
from handlers.slack.outbound import SlackChat
from handlers.slack.postmortem_form import ModalMeta
from handlers.teams import cards, guidance_cards, postmortem_card
from handlers.teams import markdown as teams_md
from incident_core import chat_commands, warroom
from incident_core import richtext as rt
from incident_core.action_catalog import plan_action
from incident_core.action_usecases import ActionOutcome, OutcomeStatus
from incident_core.errors import ValidationError
from incident_core.guidance import Guidance, Question, SeenBefore, Suggestion, guidance_text
from incident_core.model import Severity, Status
from incident_core.postmortem_model import SECTIONS
from incident_core.postmortem_render import document_of
from incident_core.postmortem_usecases import summary_text, view_of
from incident_core.state import IncidentState
from incident_core.state_models import ActionRecord, PostmortemRecord, Room
from publishers import jira_markup, markdown
from tests.security import oracle
from tests.security.corpus import GOOD_LINK, SHORT

ALICE, BOB = "slack:UALICE01", "slack:UBOB0002"
PEOPLE = {"UALICE01", "UBOB0002"}
NOW = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
TOKENS = ["<!channel>", "<!here>", "<!everyone>", "@here", "@channel", "<@U0BOGUS1>", "<#C0BOGUS1|x>",
          "<!subteam^S1|@g>", "<https://evil.example|Grafana>", "[x](https://evil.example)", "https://evil.example",
          "javascript:", "<at>", "</at>", "<a href='https://evil.example'>", "{code}", "{noformat}", "[~admin]",
          "!https://evil.example/i.png!", "```", "**", "*", "_", "~", "`", "h1. ", "bq. ", "# ", "> ", "- ", "1. ",
          "|", "||", "\n", "&lt;", "&amp;", "&#64;", "\\", "[", "]", "(", ")", "{", "}", "!", "@someone", "U0BOGUS1"]
ALPHABET = st.sampled_from(list("abcXYZ019 .,:;-") + ["\u200b", "\u202e", "\u2066", "\ud800", "🔥", "é", "\t"])
HOSTILE = st.one_of(st.sampled_from(SHORT),
                    st.lists(st.one_of(st.sampled_from(TOKENS), st.text(ALPHABET, max_size=6)), max_size=14)
                    .map("".join))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hostile_state(t: str) -> IncidentState:
    """An incident whose every outside-text field is `t` (titles, signals, logs, metrics, actions, postmortem)."""
    actions = {
        "a1": {"action": "runbook_command", "command": t or "x", "summary": f"run {t[:80]}", "risk": "high",
               "status": "denied", "requested_by": ALICE, "denied_by": BOB, "deny_reason": t},
        "a2": {"action": "restart_deployment", "summary": t, "risk": "low", "status": "executed",
               "requested_by": BOB, "approver": ALICE},
        "a3": {"action": "scale", "summary": t, "risk": "medium", "status": "awaiting_confirmation",
               "requested_by": "signal:" + t[:12]}}  # an actor that is no Slack user: never a mention
    postmortem = {"status": "draft", "title": t, "approver": ALICE, "source": "deterministic",
                  "sections": {key: f"{t}\n- {t} [ev 1]\n_{t}_" for key, _ in SECTIONS},
                  "action_items": [{"id": "ai-1", "title": t, "owner": ALICE, "priority": "P2", "due": "2026-02-01",
                                    "kind": "prevent", "cites": [1]},
                                   {"id": "ai-2", "title": t, "owner": t, "priority": t, "due": t, "kind": t}],
                  "published": {"github": GOOD_LINK}}
    return IncidentState(
        incident_id="0123456789abcdef0123456789abcdef", org_id="o", project_id=None, number=7, title=t or "x",
        status=Status.INVESTIGATING, severity=Severity.SEV2, created_at=NOW, updated_at=NOW, version=9,
        declared_by=ALICE, roles={"commander": ALICE, "scribe": BOB}, services=(t[:60],), signal_count=1,
        recent_signals=({"title": t, "source": t[:20], "severity": "critical", "status": "firing"},),
        metric_points=((NOW.isoformat(), t[:40] or "m", 1.0), (NOW.isoformat(), t[:40] or "m", 2.0)),
        log_lines={t[:200]: 3}, actions={k: ActionRecord.from_dict(a) for k, a in actions.items()},
        rooms={"slack": Room(room_id="CROOM0001", name=t[:20], message_id="1.1")},
        postmortem=PostmortemRecord.from_dict(postmortem))


def hostile_guidance(t: str) -> Guidance:
    steps = tuple(Suggestion(title=t, why=t, source=t, risk=risk, risk_reason=t, command=t or "x",
                             action="runbook_command", confidence=0.5, suggestion_id=f"s{i}", quote=t, quote_by=by)
                  for i, (risk, by) in enumerate((("read-only", "runbook"), ("medium", "model"), ("high", t))))
    return Guidance(suggestions=steps, questions=(Question(t, t),), seen_before=(SeenBefore(t, t, "incident", t, t),),
                    engine=t[:40], message=t)


def hostile_outcome(t: str, status: OutcomeStatus) -> ActionOutcome:
    return ActionOutcome(action_id="a1", status=status, action="runbook_command", summary=t, risk="medium", reason=t,
                         command=t or "x", requested_by=ALICE, approver=BOB, source=t, output=t, undo=t,
                         undo_output=t, can_undo=True, state=hostile_state(t))


def refusal(t: str) -> ValidationError:
    """The risk policy's refusal of a command that carries `t` (the command is shown in code)."""
    try:
        plan_action("runbook_command", command=f"rm -rf / ; echo {t}", source="runbooks/x.md")
    except ValidationError as exc:
        return exc
    raise AssertionError("deleting / is refused")


def every_node(t: str) -> rt.Rich:
    """A document using every node type, with `t` wherever text goes and one safe link."""
    return rt.doc(
        rt.para(t, rt.b(t), rt.em(t), rt.code(t), rt.link(GOOD_LINK), rt.link("javascript:" + t), rt.Mention(ALICE, t),
                rt.Mention("teams:" + t[:10], t), rt.emoji("warning"), rt.cmd(t), rt.Room("slack", t[:12], t),
                rt.term("room"), rt.Break(), t),
        rt.bullets(t, (rt.b(t), t)), rt.Quote(rt.inline(t)), rt.CodeBlock(t), rt.Heading(rt.inline(t), 2),
        rt.Table((rt.inline(t), rt.inline(t)), ((rt.inline(t), rt.inline(rt.code(t))),)), rt.Rule())


# ----- Slack ---------------------------------------------------------------------------------------

def mrkdwn_texts(node: Any) -> list[tuple[str, bool]]:
    """Every mrkdwn string in a payload (text fields of messages included), with its verbatim flag."""
    out: list[tuple[str, bool]] = []
    if isinstance(node, list):
        for item in node:
            out += mrkdwn_texts(item)
    elif isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            out.append((str(node.get("text", "")), bool(node.get("verbatim"))))
        for key, value in node.items():
            if key != "text" or not isinstance(value, str):
                out += mrkdwn_texts(value)
    return out


def assert_slack(payload: Any, *, fallback: str | None = None, surface: str = "message", where: str = "") -> None:
    found = [tok for text, verbatim in mrkdwn_texts(payload) for tok in oracle.slack_text_live(text, verbatim=verbatim)]
    if fallback is not None:
        found += oracle.slack_text_live(fallback)
    oracle.assert_slack_quiet(found, users=PEOPLE, channels={"CROOM0001"}, links={GOOD_LINK}, where=where)
    assert all(v for _, v in mrkdwn_texts(payload)), f"{where}: a mrkdwn object without verbatim"
    if surface == "message":
        assert validate_blocks(payload) == [], f"{where}: {validate_blocks(payload)[:2]}"
    elif surface in ("modal", "home"):
        assert validate_view(payload, modal=surface == "modal") == [], f"{where}: {validate_view(payload, modal=True)}"


@SETTINGS
@given(HOSTILE)
def test_slack_war_room_home_and_channel_metadata(t: str) -> None:
    state = hostile_state(t)
    view = warroom.build(state, NOW)
    assert_slack(slack_blocks.war_room(view), fallback=slack_blocks.fallback_text(view), where="war room")
    assert_slack(slack_blocks.home([state, replace(state, number=8)]), surface="home", where="home")
    topic = SlackChat._topic(view)
    assert len(topic) <= 250
    oracle.assert_slack_quiet(oracle.slack_text_live(topic), where="topic")


@SETTINGS
@given(HOSTILE)
def test_slack_replies_notices_errors_and_every_node(t: str) -> None:
    state = hostile_state(t)
    for name, content in (("catchup", warroom.catchup(state, [t, t], NOW)),
                          ("update", warroom.status_update(state, [t], NOW)),
                          ("postmortem summary", summary_text(view_of(state))),
                          ("error", explain(ValidationError(rt.doc(rt.para("bad ", rt.code(t), " ", t))))),
                          ("refused command", explain(refusal(t))), ("guidance reply", guidance_text(hostile_guidance(t))),
                          ("usage", chat_commands.USAGE), ("every node", every_node(t))):
        sent = mrkdwn.message(content)
        assert_slack(sent["blocks"], fallback=sent["text"], where=name)
        assert_slack(pb.notice_blocks(content, "i", "status_update"), where=f"{name} notice")


@SETTINGS
@given(HOSTILE, st.sampled_from(list(OutcomeStatus)))
def test_slack_guidance_and_action_outcomes(t: str, status: OutcomeStatus) -> None:
    text, blocks = sb.guidance_message("INC-7", "i", hostile_guidance(t))
    assert_slack(blocks, fallback=text, where="guidance")
    text, blocks = sb.outcome_message(hostile_outcome(t, status), "i")
    assert_slack(blocks, fallback=text, where=f"outcome {status}")


@SETTINGS
@given(HOSTILE)
def test_slack_postmortem_modals_and_published_summary(t: str) -> None:
    state = hostile_state(t)
    meta = ModalMeta(incident_id=state.incident_id, channel="C1")
    assert_slack(pb.review_modal("INC-7", meta, [(1, t[:75]), (2, t)], {1}), surface="modal", where="review modal")
    assert_slack(pb.editor_modal(view_of(state), channel="C1", can_approve=True), surface="modal", where="editor")
    assert_slack(pb.message_modal(explain(ValidationError(t))), surface="modal", where="message modal")
    summary = pb.summary_message(document_of(state), {"Dashboard": GOOD_LINK, t[:20]: "javascript:" + t})
    assert_slack(summary["blocks"], fallback=summary["text"], where="published summary")


@SETTINGS
@given(HOSTILE)
def test_slack_escaping_keeps_the_text(t: str) -> None:
    shown = html.unescape(mrkdwn.escape(t).replace(mrkdwn.ZWSP, ""))
    assert shown == rt.clean(t).replace(mrkdwn.ZWSP, "")
    assert not oracle.slack_text_live(mrkdwn.escape(t)) or "http" in t.lower() or "www." in t.lower()


# ----- Teams ---------------------------------------------------------------------------------------

def assert_teams(card: Any, where: str) -> None:
    oracle.assert_teams_quiet(card_tokens(card), links={GOOD_LINK}, where=where)
    assert json.dumps(card)  # serializable as sent


@SETTINGS
@given(HOSTILE)
def test_teams_cards(t: str) -> None:
    state = hostile_state(t)
    names = {ALICE: t[:30], BOB: "Bob"}
    assert_teams(cards.war_room(warroom.build(state, NOW), names), "war room card")
    for status in OutcomeStatus:
        assert_teams(cards.action_card(hostile_outcome(t, status), "i", names), f"action card {status}")
    assert_teams(cards.notice(every_node(t), names), "notice")
    assert_teams(guidance_cards.guidance_card("INC-7", "i", hostile_guidance(t)), "guidance card")
    assert_teams(postmortem_card.review_card(view_of(state), {"save": "s", "submit": "u", "approve": "a"}),
                 "postmortem card")
    for text in (cards.fallback_text(warroom.build(state, NOW)), guidance_cards.guidance_text("INC-7",
                                                                                             hostile_guidance(t))):
        oracle.assert_teams_quiet(tokens(text), where="notification text")


@SETTINGS
@given(HOSTILE)
def test_teams_messages_and_escaping(t: str) -> None:
    for content in (every_node(t), summary_text(view_of(hostile_state(t))), chat_commands.USAGE,
                    guidance_text(hostile_guidance(t)), explain(refusal(t))):
        text = teams_md.TeamsText({ALICE: t}).markdown(content)
        oracle.assert_teams_quiet(tokens(text), links={GOOD_LINK}, where="message")
    assert visible(teams_md.escape(t)).replace(teams_md.ZWSP, "") == rt.clean(t)


# ----- GitHub Markdown and Jira ---------------------------------------------------------------------

@SETTINGS
@given(HOSTILE)
def test_postmortem_markdown_and_jira(t: str) -> None:
    doc = document_of(hostile_state(t))
    md = markdown.to_markdown(doc.content)
    oracle.assert_markdown_quiet(md, where="postmortem markdown")
    oracle.assert_markdown_quiet(markdown.to_markdown(every_node(t)), links={GOOD_LINK}, where="every node")
    jira = jira_markup.to_jira(doc.content)
    oracle.assert_jira_quiet(jira, where="postmortem jira")
    oracle.assert_jira_quiet(jira_markup.to_jira(every_node(t)), links={GOOD_LINK}, where="every node jira")


@SETTINGS
@given(HOSTILE)
def test_markdown_keeps_the_text_and_code_stays_verbatim(t: str) -> None:
    line = " ".join(rt.clean(t).split())
    shown = oracle.markdown_text(markdown.to_markdown(rt.doc(line))).replace(markdown.ZWSP, "")
    assert " ".join(shown.split()) == line or not line
    fenced = oracle.markdown_text(markdown.code_block(t))
    assert fenced.rstrip("\n") == rt.clean(t).rstrip("\n") or not rt.clean(t).strip()
    jira = jira_markup.code_block(t)
    macro, body = jira.split("\n", 1)[0], jira.split("\n", 1)[1].rsplit("\n", 1)[0]
    assert macro in ("{code}", "{noformat}") and jira.endswith("\n" + macro) and macro[:-1] not in body.lower()
    both = "{code" in rt.clean(t).lower() and "{noformat" in rt.clean(t).lower()
    assert body == rt.clean(t) or both  # verbatim unless the text holds both closers


# ----- Insights (patterns and the weekly digest) --------------------------------------------------

def hostile_patterns(t: str) -> tuple[Any, Any]:
    """A pattern report and a digest whose service, alert, titles, scope and tracker refs are `t`."""
    from datetime import timedelta

    from incident_core.insights import Digest, WeekBucket, WeeklySeries
    from incident_core.patterns import ActionItem, PastIncident, Pattern, PatternReport, PostmortemRef

    items = (ActionItem("i1", "ai-1", t, owner=t, tracker_ref=t[:40]),)
    past = tuple(PastIncident(incident_id=f"i{n}", human_id=f"INC-{n}", project_id=None, title=t,
                              severity=Severity.SEV2, opened_at=NOW - timedelta(days=n), acknowledged_at=None,
                              resolved_at=NOW, services=(t[:60],), alert_keys=(f"alertname+service={t[:40]}/x",),
                              postmortem=PostmortemRef(f"i{n}", f"INC-{n}", "published", t[:60], items))
                 for n in (1, 2, 3))
    pattern = Pattern(key=f"alertname+service={t[:60]}/{t[:20]}", incidents=past)
    report = PatternReport(since=NOW - timedelta(days=30), until=NOW, incidents=3, patterns=(pattern,),
                           service=t[:60], project=t[:60])
    week = WeekBucket(start=NOW.date(), counts={t[:40] or "x": 2}, mttr_seconds=60.0)
    return report, Digest(scope=t[:80], week=NOW.date(), series=WeeklySeries((week,), (t[:40],)), patterns=(pattern,))


@SETTINGS
@given(HOSTILE)
def test_insights_blocks_and_cards(t: str) -> None:
    from handlers.slack import insights_blocks
    from handlers.teams import insights_cards

    report, digest = hostile_patterns(t)
    assert_slack(insights_blocks.patterns_blocks(report), where="patterns blocks")
    assert_slack(insights_blocks.digest_blocks(digest), fallback=insights_blocks.digest_text(digest), where="digest")
    assert_teams(insights_cards.patterns_card(report), "patterns card")
    assert_teams(insights_cards.digest_card(digest, None), "digest card")
    oracle.assert_teams_quiet(tokens(insights_cards.digest_text(digest)), where="digest notification")
