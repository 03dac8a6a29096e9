"""Posting the weekly digest to Slack: the chart through the current upload flow, each step recorded.

files.getUploadURLExternal → POST the bytes to the upload URL → files.completeUploadExternal (which
shares the file in the channel with the digest's blocks). The file id is recorded once its bytes are
uploaded, and the share once it is done, so a retry after a partial failure resumes: it first asks
files.info whether an earlier attempt already shared that file (find before create), completes the
upload if it did not, and starts a fresh upload only when the old one can no longer be completed.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from incident_core.ports import DeliverySteps

log = logging.getLogger("revenant.slack.digest")
UPLOADED, SHARED = "uploaded", "shared"


class UploadError(RuntimeError):
    """The upload URL refused the bytes (the outbox retries the delivery)."""


@dataclass(frozen=True)
class ChartPost:
    """What to share: the PNG, its names, and the message blocks it goes with."""

    png: bytes
    filename: str
    title: str
    alt_text: str
    blocks: list[dict[str, Any]]


class SlackDigestUploader:
    """One digest delivery (org, outbox key) into one channel, resumable step by step."""

    def __init__(self, client: WebClient, steps: DeliverySteps, *, timeout: float = 30) -> None:
        self.client = client
        self.steps = steps
        self.timeout = timeout

    def post(self, org_id: str, key: str, channel: str, chart: ChartPost) -> str:
        """Share the chart in `channel` once; returns the file id."""
        done = self.steps.steps(org_id, key)
        if SHARED in done:
            return str(done[SHARED]["file_id"])
        file_id = done.get(UPLOADED, {}).get("file_id")
        if file_id and self._shared_in(str(file_id), channel):
            return self._record_shared(org_id, key, str(file_id), channel)
        if file_id and self._complete(str(file_id), channel, chart):
            return self._record_shared(org_id, key, str(file_id), channel)
        file_id = self._upload(chart)
        self.steps.record(org_id, key, UPLOADED, {"file_id": file_id})
        if not self._complete(file_id, channel, chart):
            raise UploadError(f"Slack lost upload {file_id} between the upload and its completion; retrying")
        return self._record_shared(org_id, key, file_id, channel)

    def _record_shared(self, org_id: str, key: str, file_id: str, channel: str) -> str:
        self.steps.record(org_id, key, SHARED, {"file_id": file_id, "channel": channel})
        return file_id

    def _shared_in(self, file_id: str, channel: str) -> bool:
        """Did an earlier attempt share this file in the channel? (files.info; an uncompleted file is not found)."""
        try:
            found = self.client.files_info(file=file_id)["file"]
        except SlackApiError as exc:
            if exc.response.get("error") in ("file_not_found", "file_deleted"):
                return False
            raise
        shares = found.get("shares") or {}
        return any(channel in (shares.get(kind) or {}) for kind in ("public", "private")) or channel in (
            *(found.get("channels") or ()), *(found.get("groups") or ()))

    def _complete(self, file_id: str, channel: str, chart: ChartPost) -> bool:
        """Share the uploaded file with the digest's blocks; False when Slack no longer knows the upload."""
        try:
            self.client.files_completeUploadExternal(files=[{"id": file_id, "title": chart.title}], channel_id=channel,
                                                     blocks=json.dumps(chart.blocks))
        except SlackApiError as exc:
            if exc.response.get("error") == "file_not_found":
                return False
            raise
        return True

    def _upload(self, chart: ChartPost) -> str:
        ticket = self.client.files_getUploadURLExternal(filename=chart.filename, length=len(chart.png),
                                                        alt_txt=chart.alt_text[:1000])
        request = urllib.request.Request(str(ticket["upload_url"]), data=chart.png, method="POST",
                                         headers={"Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - Slack's upload URL
                answer.read()
        except urllib.error.HTTPError as exc:
            raise UploadError(f"Slack's upload URL answered HTTP {exc.code}") from None
        return str(ticket["file_id"])
