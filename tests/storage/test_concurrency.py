"""Two OS processes append to one incident 500 times each: nothing lost, nothing doubled."""

from __future__ import annotations

from pathlib import Path

from bot.bootstrap import App
from incident_core import usecases as uc
from tests.conftest import make_app
from tests.helpers import declare, in_processes, new_org

APPENDS = 500


def _writer(url: str, data_dir: str, org_id: str, incident_id: str, tag: str) -> None:
    app = make_app(url, Path(data_dir))
    try:
        for i in range(APPENDS):
            uc.add_note(deps=app.deps, org_id=org_id, incident_id=incident_id, actor=f"u:{tag}", text=f"{tag}-{i}")
    finally:
        app.close()


def test_two_processes_append_without_loss_or_duplication(app: App, db_url: str, tmp_path: Path) -> None:
    w = new_org(app)
    inc = declare(w).state
    in_processes(_writer, [(db_url, str(tmp_path), w.org.id, inc.incident_id, tag) for tag in ("left", "right")],
                 timeout=240)
    events = app.queries.timeline(w.org.id, inc.incident_id)
    assert [e.version for e in events] == list(range(1, 2 * APPENDS + 2))
    texts = [e.text for e in events[1:]]  # type: ignore[attr-defined]
    assert len(texts) == len(set(texts)) == 2 * APPENDS
    for tag in ("left", "right"):  # each writer's own order is preserved
        assert [t for t in texts if t.startswith(tag)] == [f"{tag}-{i}" for i in range(APPENDS)]
    state = app.queries.get(w.org.id, inc.incident_id)
    assert state is not None and state.version == 2 * APPENDS + 1 and state.notes_count == 2 * APPENDS
