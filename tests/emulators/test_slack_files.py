"""The Slack emulator's upload flow, driven by the real slack_sdk: getUploadURLExternal, the upload URL,
completeUploadExternal, files.info, and the errors the real API answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from emulators.slack import SlackEmulator

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


def _post(url: str, data: bytes) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_sdk_upload_v2_shares_the_file_in_the_channel(slack: SlackEmulator) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    general = slack.channel_by_name("general")
    assert general is not None
    done = client.files_upload_v2(channel=general.id, content=PNG, filename="chart.png", title="Weekly",
                                  initial_comment="the digest")
    file_id = done["files"][0]["id"]
    shared = slack.files(general.id)
    assert [f["id"] for f in shared] == [file_id] and shared[0]["data"] == PNG
    message = slack.messages(general.id)[-1]
    assert message["text"] == "the digest" and message["files"][0]["id"] == file_id and message["upload"] is True
    info = client.files_info(file=file_id)["file"]
    assert info["channels"] == [general.id] and info["shares"]["public"][general.id][0]["ts"] == message["ts"]
    assert info["mimetype"] == "image/png" and info["size"] == len(PNG)
    assert "[image: Weekly" in slack.render_channel(general.id)


def test_each_step_answers_the_real_errors(slack: SlackEmulator) -> None:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    general = slack.channel_by_name("general")
    assert general is not None
    with pytest.raises(SlackApiError) as missing:
        client.files_getUploadURLExternal(filename="x.png", length=0)
    assert missing.value.response["error"] == "missing_argument"
    ticket = client.files_getUploadURLExternal(filename="x.png", length=len(PNG))
    with pytest.raises(SlackApiError) as early:  # completing before the bytes arrived
        client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}], channel_id=general.id)
    assert early.value.response["error"] == "file_not_found"
    assert _post(ticket["upload_url"], PNG[:10])[0] == 400  # fewer bytes than announced
    assert _post(ticket["upload_url"], PNG) == (200, f"OK - {len(PNG)}")
    with pytest.raises(SlackApiError) as bad_channel:
        client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}], channel_id="C404")
    assert bad_channel.value.response["error"] == "invalid_channel"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*digest*"}}]
    client.files_completeUploadExternal(files=[{"id": ticket["file_id"], "title": "t"}], channel_id=general.id,
                                        blocks=json.dumps(blocks))
    assert slack.messages(general.id)[-1]["blocks"] == blocks
    with pytest.raises(SlackApiError) as twice:  # completing is once per file
        client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}], channel_id=general.id)
    assert twice.value.response["error"] == "file_not_found"
    assert _post(ticket["upload_url"], PNG)[0] == 404  # the ticket is spent
    slack.add_token("xoxb-no-files", scopes={"chat:write"})
    with pytest.raises(SlackApiError) as scope:
        WebClient(token="xoxb-no-files", base_url=slack.api_url).files_getUploadURLExternal(filename="a", length=1)
    assert scope.value.response["error"] == "missing_scope" and scope.value.response["needed"] == "files:write"
