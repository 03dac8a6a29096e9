"""The hostile corpus into a published postmortem: GitHub (file and pull request) and Jira (issues), through
the outbox against their emulators. Nothing links, embeds, mentions or breaks the document; the command that
ran stays verbatim in its code span.
"""

from __future__ import annotations

import pytest

from incident_core import action_usecases as au
from incident_core import postmortem_usecases as pmu
from incident_core import usecases as uc
from incident_core.model import IncidentRole, Severity, Status
from publishers.simulator import SimulatedExecutor
from tests.postmortem.conftest import ALICE, BOB, PublishWorld, deliver_all
from tests.security import oracle
from tests.security.corpus import ALL_IN_ONE, HOSTILE, SHORT

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # rendering does not depend on the store
COMMAND = "kubectl -n shop get pods -l 'app=checkout' # ``` {code} {noformat} <!channel> [x](https://evil.example)"


def test_hostile_postmortem_publishes_quietly_with_commands_verbatim(publish_world: PublishWorld) -> None:
    w = publish_world
    deps, org = w.deps, w.org_id
    s = uc.declare_incident(deps=deps, org_id=org, actor=ALICE, title=HOSTILE[9][:150], severity=Severity.SEV2,
                            commander=ALICE).state
    base = {"deps": deps, "org_id": org, "incident_id": s.incident_id}
    uc.assign_role(**base, actor=ALICE, role=IncidentRole.SCRIBE, assignee=BOB)
    for text in SHORT:
        uc.add_note(**base, actor=BOB, text=text[:2000])
    uc.add_note(**base, actor=BOB, text=f"follow-up: {HOSTILE[16]}")
    ran = au.request_action(**base, executor=SimulatedExecutor(delay_seconds=0), actor=BOB,
                            action="runbook_command", command=COMMAND, source="runbooks/<!channel>.md#x",
                            confirmed=True)
    assert ran.status.value == "awaiting_approval"  # the policy cannot read the unbalanced quoting: high
    ran = au.approve_action(**base, executor=SimulatedExecutor(delay_seconds=0), actor=ALICE, action_id=ran.action_id)
    assert ran.status.value == "executed"
    uc.change_status(**base, actor=ALICE, status=Status.IDENTIFIED, note=ALL_IN_ONE[:1900])
    uc.change_status(**base, actor=ALICE, status=Status.RESOLVED, note=HOSTILE[17])
    deliver_all(w)  # the automatic draft
    summary = w.state().postmortem.sections["summary"] + "\n" + "\n".join(h[:200] for h in SHORT)
    pmu.save_edits(**base, actor=BOB, sections={"summary": summary, "lucky": f"- {HOSTILE[14]} [ev 1]"})
    pmu.submit_postmortem(**base, queries=w.app.queries, actor=BOB)
    pmu.approve_postmortem(**base, queries=w.app.queries, actor=ALICE)
    deliver_all(w)
    state = w.state()
    assert set(state.postmortem.published) >= {"github", "jira"}

    pulls = w.gh.pull_requests("acme", "postmortems")
    path = f"postmortems/{state.status_times['resolved'][:10]}-inc-1.md"
    markdown = w.gh.file("acme", "postmortems", pulls[0]["head"]["ref"], path)
    assert markdown is not None
    oracle.assert_markdown_quiet(markdown, where="postmortem file")
    oracle.assert_markdown_quiet(str(pulls[0]["body"]), where="pull request body")
    assert "\n" not in pulls[0]["title"] and "<!" not in pulls[0]["title"].replace("<!channel>", "")
    shown = oracle.markdown_text(markdown)
    assert COMMAND in shown  # verbatim, in a code span the backticks inside cannot close
    assert "Grafana dashboard" in shown and "<!channel>" in shown  # hostile text shown as text

    issues = w.jira.issues("OPS")
    assert len(issues) >= 2
    for issue in issues:
        fields = issue["fields"]
        assert "\n" not in fields["summary"]
        oracle.assert_jira_quiet(str(fields.get("description") or ""), where=f"jira {issue['key']}")
