"""Turn a parsed Markdown document into LlamaIndex TextNodes carrying flat, filterable metadata."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from knowledge.frontmatter import as_list
from knowledge.markdown import ParsedDocument, split_camel
from knowledge.vocabulary import document_vocabulary

KINDS = ("runbook", "postmortem", "incident")
EMBEDDED_KEYS = ("title", "section", "aliases", "vocabulary")
_NOT_EMBEDDED = [
    "url", "doc_key", "path", "source", "slug", "kind", "project", "service", "root", "content_hash",
    "chunk", "commands_json", "steps_json", "links_json",
]


@dataclass(frozen=True)
class DocumentInfo:
    """Where a document comes from and how it is scoped inside its org."""

    path: str
    root: str
    project: str
    content_hash: str
    kind: str | None = None
    services: tuple[str, ...] = ()
    title: str | None = None
    url: str | None = None  # the file at the synced commit (sources), cited by hits

    @property
    def doc_key(self) -> str:
        """Stable key of the document inside its org: (project, ingest root, path)."""
        raw = "\x1f".join((self.project, self.root, self.path))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def content_hash(data: bytes | str) -> str:
    """SHA-256 of a document's bytes (text is UTF-8 encoded)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def service_flag(service: str) -> str:
    """The metadata key (value 1) marking a chunk as belonging to a service."""
    return "svc_" + re.sub(r"[^a-z0-9]+", "_", service.strip().lower()).strip("_")


def detect_kind(path: str, front_matter: dict[str, Any]) -> str:
    """runbook, postmortem or incident: front matter 'kind'/'type' first, then the path."""
    declared = str(front_matter.get("kind") or front_matter.get("type") or "").strip().lower()
    if declared in KINDS:
        return declared
    lowered = path.lower()
    if re.search(r"post-?mortem|retro|\bpir\b", lowered):
        return "postmortem"
    if "incident" in lowered:
        return "incident"
    return "runbook"


def build_nodes(doc: ParsedDocument, info: DocumentInfo) -> list[TextNode]:
    """One TextNode per section chunk, with the document's title, aliases and scope in the metadata."""
    front = doc.front_matter
    kind = info.kind or detect_kind(info.path, front)
    services = info.services or tuple(as_list(front.get("services") or front.get("service")))
    title = info.title or doc.title or PurePosixPath(info.path).stem
    aliases = _aliases(title, info.path, front)
    vocabulary = document_vocabulary(doc) if kind == "runbook" else ""
    nodes: list[TextNode] = []
    for index, section in enumerate(doc.sections):
        heading_path = section.heading_path or (title,)
        source = f"{info.path}#{section.slug}" if section.slug else info.path
        metadata: dict[str, Any] = {
            "title": title,
            "section": " > ".join(heading_path),
            "aliases": aliases,
            "vocabulary": vocabulary,
            "doc_key": info.doc_key,
            "path": info.path,
            "source": source,
            "slug": section.slug,
            "kind": kind,
            "project": info.project,
            "service": ",".join(services),
            "root": info.root,
            "content_hash": info.content_hash,
            "chunk": index,
            "commands_json": json.dumps([c.to_json() for c in section.commands]),
            "steps_json": json.dumps(list(section.steps)),
            "links_json": json.dumps([{"text": link.text, "url": link.url} for link in section.links]),
            "url": (f"{info.url}#{section.slug}" if section.slug else info.url) if info.url else "",
        }
        metadata.update({service_flag(s): 1 for s in services})
        node = TextNode(
            id_=f"{info.doc_key}-{index}",
            text=section.text,
            metadata=metadata,
            excluded_embed_metadata_keys=[k for k in metadata if k not in EMBEDDED_KEYS],
            excluded_llm_metadata_keys=list(_NOT_EMBEDDED),
        )
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=info.doc_key)
        nodes.append(node)
    return nodes


def _aliases(title: str, path: str, front: dict[str, Any]) -> str:
    """Words a responder might use for the document: CamelCase split title and file name, tags."""
    stem = PurePosixPath(path).stem
    words = [split_camel(title), split_camel(stem), *as_list(front.get("aliases")), *as_list(front.get("tags"))]
    seen: dict[str, None] = {}
    for word in words:
        if word and word.lower() != title.lower():
            seen.setdefault(word, None)
    return "; ".join(seen)
