"""Optional LLM narrative for postmortem drafts: rephrases sections, never adds facts.

The model gets the deterministic sections and returns the same keys as strict structured output.
Every rephrased section then passes the domain's fact check (citations exist and were cited there,
every factual line cited, no number, time, id or name that is not in the draft); a section that fails
keeps its deterministic text, and any API error, refusal or malformed reply keeps the whole draft.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace

from openai import OpenAI, OpenAIError

from incident_core.postmortem_draft import Draft
from incident_core.postmortem_usecases import accept_narrative

log = logging.getLogger("revenant.postmortem.llm")

NARRATIVE_SECTIONS = ("summary", "detection", "response", "contributing_factors", "went_well", "went_wrong", "lucky")
SCHEMA = {
    "type": "object",
    "properties": {key: {"type": "string"} for key in NARRATIVE_SECTIONS},
    "required": list(NARRATIVE_SECTIONS),
    "additionalProperties": False,
}
SYSTEM_PROMPT = """You edit blameless incident postmortems written by a program from an incident timeline.
Rephrase each section you are given into clear, calm prose or bullets for engineers. Rules:
- Keep every citation like [ev 3, 7]; every line that states a fact must end with the citations it rests on.
- Do not add facts: no numbers, times, durations, names, services, ids or quotes that are not in the input.
- Refer to roles and systems, never blame a person; no counterfactuals ("should have", "failed to").
- Keep lines in _italics_ unchanged: they are prompts for the reviewers.
Return JSON with exactly the same keys; return a section unchanged when you cannot improve it."""


class OpenAINarrator:
    """Narrator port over the OpenAI chat completions API with strict JSON-schema output."""

    def __init__(self, client: OpenAI, model: str) -> None:
        self.client = client
        self.model = model

    def narrate(self, draft: Draft, *, known_versions: set[int]) -> Draft:
        """The draft with checked, rephrased sections; the unchanged draft (with a note) on any failure."""
        given = {key: draft.sections.get(key, "") for key in NARRATIVE_SECTIONS}
        try:
            response = self.client.chat.completions.create(
                model=self.model, temperature=0.2,
                messages=[{"role": "system", "content": SYSTEM_PROMPT},
                          {"role": "user", "content": json.dumps({"title": draft.title, "sections": given})}],
                response_format={"type": "json_schema", "json_schema": {
                    "name": "postmortem_narrative", "strict": True, "schema": SCHEMA}})
        except OpenAIError as exc:
            log.warning("postmortem narrative unavailable: %s", type(exc).__name__)
            return replace(draft, notes=f"narrative not used: the model call failed ({type(exc).__name__})")
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice else None
        if message is None or message.refusal or not message.content:
            return replace(draft, notes="narrative not used: the model refused or returned nothing")
        if choice is not None and choice.finish_reason == "length":
            return replace(draft, notes="narrative not used: the reply was cut off")
        try:
            data = json.loads(message.content)
        except ValueError:
            return replace(draft, notes="narrative not used: the reply was not valid JSON")
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in NARRATIVE_SECTIONS):
            return replace(draft, notes="narrative not used: the reply did not match the schema")
        candidate = replace(draft, sections={**draft.sections, **{k: data[k].strip() for k in NARRATIVE_SECTIONS}})
        return accept_narrative(draft, candidate, known_versions)
