"""Rendering benchmark (not a test): what escaping every outside string costs per message, per platform.

    .venv/bin/python bench/render.py [--rounds 2000]

Renders a war room (Slack blocks and a Teams card) and a guidance reply for an ordinary incident and for
one whose every field is hostile (the corpus of tests/security, 40k characters included), and prints
the mean and p95 per render in milliseconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import mean, pct, say  # noqa: E402
from handlers.slack import blocks, suggestion_blocks  # noqa: E402
from handlers.teams import cards, guidance_cards  # noqa: E402
from incident_core import warroom  # noqa: E402
from tests.security.corpus import ALL_IN_ONE, LONG  # noqa: E402
from tests.security.test_renderer_contract import NOW, hostile_guidance, hostile_state  # noqa: E402


def _time(fn, rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    cases = {"ordinary": "checkout 5xx ratio above 5% for 5 minutes", "hostile": ALL_IN_ONE, "40k": LONG}
    for name, text in cases.items():
        state = hostile_state(text)
        view = warroom.build(state, NOW)
        guidance = hostile_guidance(text)
        for what, fn in (("slack war room", lambda v=view: blocks.war_room(v)),
                         ("teams war room", lambda v=view: cards.war_room(v)),
                         ("slack guidance", lambda g=guidance: suggestion_blocks.guidance_message("INC-7", "i", g)),
                         ("teams guidance", lambda g=guidance: guidance_cards.guidance_card("INC-7", "i", g))):
            times = _time(fn, rounds if name == "ordinary" else max(50, rounds // 10))
            say(f"{name:9} {what:15} mean {mean(times):6.3f} ms  p95 {pct(times, 95):6.3f} ms")


if __name__ == "__main__":
    main()
