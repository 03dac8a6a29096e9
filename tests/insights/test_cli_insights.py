"""`revenant insights` as a user runs it: patterns as JSON and text, the chart as a PNG read back, and the wall
between orgs and projects."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from bot.bootstrap import bootstrap
from bot.settings import Settings
from tests.bot.test_cli import run
from tests.insights.history import StepClock, seed


def png_facts(data: bytes) -> tuple[tuple[int, int], int, set[tuple[int, int, int]]]:
    """Size, how many pixels are not white, and the distinct colours of a PNG."""
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
        pixels = list(rgb.getdata())
        return rgb.size, sum(1 for p in pixels if p != (255, 255, 255)), set(pixels)


def test_insights_json_text_and_chart(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    clock = StepClock(now)
    app = bootstrap(Settings(data_dir=tmp_path, database_url=None), clock=clock)  # type: ignore[call-arg]
    try:
        acme = app.directory.create_org("acme")
        other = app.directory.create_org("other")
        web = app.directory.create_project(acme.id, "web")
        seed(app, clock, acme.id, 40, now=now - timedelta(hours=1))  # 20 days, the last one an hour ago
        seed(app, clock, other.id, 8, now=now - timedelta(hours=1))
        seed(app, clock, acme.id, 4, now=now - timedelta(hours=1), project_id=web.id)
    finally:
        app.close()

    out = run(["insights", "--org", "acme", "--since", "30d", "--json", "--chart", "chart.png"], tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["days"] == 30 and report["incidents"] == 44
    counts = {p["key"]: p["count"] for p in report["patterns"]}
    # 40 incidents: 10 per service; checkout splits 5 HighLatency / 5 ErrorRate; the project adds one per service.
    assert counts["service=checkout"] == 11 and counts["alertname+service=DBConnections/payments"] == 11
    assert counts["alertname+service=HighLatency/checkout"] == 6
    png = (tmp_path / "chart.png").read_bytes()
    size, inked, colours = png_facts(png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and size == (800, 400)
    assert inked > 20_000  # bars, axes, legend and the MTTR line, not a blank canvas
    assert (0, 114, 178) in colours  # the first service's bars (#0072B2)
    weeks = report["chart"]["series"]["weeks"]
    assert len(weeks) == 5 and sum(w["total"] for w in weeks) == 44

    project = json.loads(run(["insights", "--org", "acme", "--project", "web", "--json"], tmp_path).stdout)
    assert project["incidents"] == 4 and project["patterns"] == []
    theirs = json.loads(run(["insights", "--org", "other", "--json"], tmp_path).stdout)
    assert theirs["incidents"] == 8 and max(p["count"] for p in theirs["patterns"]) == 2

    text = run(["insights", "--org", "acme", "--service", "checkout"], tmp_path)
    assert text.returncode == 0 and "HighLatency (service checkout): 6 incidents" in text.stdout
    assert "MTTA" in text.stdout and "MTTR" in text.stdout

    bad = run(["insights", "--org", "acme", "--since", "2y"], tmp_path)
    assert bad.returncode == 2 and "30d" in bad.stderr and "Traceback" not in bad.stderr
    missing = run(["insights", "--org", "other", "--project", "web"], tmp_path)
    assert missing.returncode == 1 and "no project 'web'" in missing.stderr
