"""files.* methods of the current upload flow: getUploadURLExternal, the upload URL, completeUploadExternal, info.

Shapes and error codes follow Slack's method reference (slack-ruby/slack-api-ref `methods/files/*.json`):
getUploadURLExternal answers `upload_url` and `file_id`; the bytes are POSTed to the upload URL (raw or
multipart), which answers HTTP 200 `OK - <bytes>`; completeUploadExternal shares the files in a channel
(a message carrying them, `initial_comment` as its text, else `blocks`) and may be called once per file;
files.info shows where a file was shared (`channels`/`groups` and `shares`).
"""

from __future__ import annotations

import secrets
from typing import Any

from emulators.slack import ops
from emulators.slack.api import Call, Registry, Result
from emulators.slack.state import Channel, SlackError, SlackState, UploadedFile

files = Registry()
MAX_ALT_TEXT = 1000
MAX_BYTES = 1024 * 1024 * 1024


def _scope(call: Call, scope: str) -> None:
    token = call.token
    if token is not None and scope not in token.scopes:
        raise SlackError("missing_scope", needed=scope, provided=",".join(sorted(token.scopes)))


def file_json(state: SlackState, f: UploadedFile, base_url: str = "") -> dict[str, Any]:
    """A file object as files.info and completeUploadExternal return it."""
    public = {c: [{"ts": ts, "channel_name": state.channels[c].name, "team_id": f.team_id}]
              for c, ts in f.shares.items() if not state.channels[c].is_private}
    private = {c: [{"ts": ts, "channel_name": state.channels[c].name, "team_id": f.team_id}]
               for c, ts in f.shares.items() if state.channels[c].is_private}
    kind = f.name.rsplit(".", 1)[-1].lower() if "." in f.name else "binary"
    return {
        "id": f.id, "created": f.created, "timestamp": f.created, "name": f.name, "title": f.title or f.name,
        "mimetype": "image/png" if kind == "png" else "application/octet-stream", "filetype": kind,
        "user": f.user, "size": len(f.data or b""), "mode": "hosted", "is_external": False,
        "url_private": f"{base_url}/files-pri/{f.team_id}-{f.id}/{f.name}", "alt_txt": f.alt_txt,
        "is_public": bool(public), "channels": sorted(public), "groups": sorted(private),
        "shares": {k: v for k, v in (("public", public), ("private", private)) if v},
    }


@files.method("files.getUploadURLExternal")
def get_upload_url(call: Call) -> Result:
    """A ticket for the bytes: `upload_url` (on this emulator) and the future `file_id`."""
    _scope(call, "files:write")
    name = call.get_str("filename")
    if not name:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: filename"]})
    length = call.get_int("length", 0)
    if length <= 0:
        raise SlackError("missing_argument")
    if length > MAX_BYTES:
        raise SlackError("file_upload_size_restricted")
    alt = call.get_str("alt_txt") or ""
    if len(alt) > MAX_ALT_TEXT:
        raise SlackError("alt_txt_too_large")
    f = UploadedFile(id=call.state.new_id("F"), team_id=call.team.id, user=call.caller, name=name, length=length,
                     ticket=secrets.token_urlsafe(16), created=call.state.now(), alt_txt=alt)
    call.state.files[f.id] = f
    return {"upload_url": f"{call.state.public_url}/upload/v1/{f.ticket}", "file_id": f.id}


def receive_upload(state: SlackState, ticket: str, data: bytes) -> tuple[int, str]:
    """POST to an upload URL: (HTTP status, body). The bytes must match the announced length."""
    f = next((x for x in state.files.values() if x.ticket == ticket), None)
    if f is None or f.completed:
        return 404, "Not Found"
    if len(data) != f.length:
        return 400, f"length mismatch: announced {f.length} bytes, received {len(data)}"
    f.data = data
    return 200, f"OK - {len(data)}"


def _target(call: Call) -> Channel | None:
    ref = call.get_str("channel_id") or (call.get_str("channels") or "").split(",")[0]
    if not ref:
        return None
    channel = call.state.channels.get(ref)
    if channel is None or channel.team_id != call.team.id or (channel.is_private and call.caller not in channel.members):
        raise SlackError("invalid_channel")
    if channel.is_archived or (call.caller not in channel.members and not channel.is_private
                               and "chat:write.public" not in (call.token.scopes if call.token else ())):
        raise SlackError("posting_to_channel_denied")
    return channel


@files.method("files.completeUploadExternal")
def complete_upload(call: Call) -> Result:
    """Finish the uploads; with a channel, share them there in one message (once per file)."""
    _scope(call, "files:write")
    listed = call.get_json("files")
    if not isinstance(listed, list) or not listed or not all(isinstance(x, dict) and x.get("id") for x in listed):
        raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] files must be a JSON array "
                                                                              "of {\"id\", \"title\"}"]})
    found = []
    for entry in listed:
        f = call.state.files.get(str(entry["id"]))
        if f is None or f.team_id != call.team.id or f.data is None or f.completed:
            raise SlackError("file_not_found")
        found.append((f, str(entry.get("title") or "")))
    channel = _target(call)
    blocks = None if call.get_str("initial_comment") else call.get_json("blocks")
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks")
    for f, title in found:
        f.completed, f.title = True, title or f.name
    if channel is not None:
        message = ops.post_message(call.state, channel, call.caller, call.get_str("initial_comment") or "",
                                   blocks=blocks, thread_ts=call.get_str("thread_ts"))
        message.files = [f.id for f, _ in found]
        for f, _ in found:
            f.shares[channel.id] = message.ts
    return {"files": [{"id": f.id, "title": f.title} for f, _ in found]}


@files.method("files.info")
def info(call: Call) -> Result:
    """A file of the caller's workspace, with where it is shared."""
    _scope(call, "files:read")
    f = call.state.files.get(call.get_str("file") or "")
    if f is None or f.team_id != call.team.id or not f.completed:
        raise SlackError("file_not_found")
    return {"file": file_json(call.state, f, call.state.public_url), "comments": [], "response_metadata": {"next_cursor": ""}}
