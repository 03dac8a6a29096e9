"""OAuth multi-workspace install: the install page, the redirect, the workspace bound to a new org."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from bot.bootstrap import bootstrap
from bot.local_server import BackgroundServer
from bot.settings import Settings
from emulators.slack import SlackEmulator
from emulators.slack_events import SlackSender
from storage.engine import make_engine
from tests.slack.conftest import SECRET, eventually

KEY = "q2oUKVo8Q3b4Q4kz8Yc6pQ2bOBMkfu1R3pH9vFv1u2c="


def test_install_binds_the_workspace_and_commands_use_its_token(db_url: str, tmp_path: Path) -> None:
    with SlackEmulator(team_name="Globex") as slack:
        settings = Settings(data_dir=tmp_path, database_url=db_url, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                            slack_client_id=slack.client_id, slack_client_secret=slack.client_secret,
                            slack_api_url=slack.api_url, encryption_key=KEY)
        app = bootstrap(settings, migrate=db_url.startswith("sqlite"))
        if app.directory.bound_org("slack", slack.team_id):  # emulator team ids repeat across tests
            app.directory.unbind("slack", slack.team_id)
        try:
            with BackgroundServer(app) as server:
                install = urllib.request.urlopen(f"{server.url}/slack/install")
                page = install.read().decode()
                state = re.search(r"state=([A-Za-z0-9_.-]+)", page)
                assert state, page[:500]
                assert "oauth/v2/authorize" in page and "commands" in page
                # The state cookie is Secure (https only): send it as a browser on https would.
                cookie = install.headers["Set-Cookie"].split(";")[0]
                opener = urllib.request.build_opener()
                opener.addheaders = [("Cookie", cookie)]
                code = slack.oauth_code()
                done = opener.open(f"{server.url}/slack/oauth_redirect?code={code}&state={state.group(1)}")
                assert done.status == 200
                org_id = app.directory.bound_org("slack", slack.team_id)
                assert org_id is not None and app.directory.org(org_id).name.startswith("Globex")  # type: ignore[union-attr]
                try:  # the state is single use
                    opener.open(f"{server.url}/slack/oauth_redirect?code={slack.oauth_code()}&state={state.group(1)}")
                    raise AssertionError("a reused OAuth state was accepted")
                except urllib.error.HTTPError as exc:
                    assert exc.code in (400, 401, 403)
                user = slack.create_user("erin").id
                general = slack.channel_by_name("general")
                assert general is not None
                sender = SlackSender(app_url=server.url, signing_secret=SECRET, slack=slack)
                _, url = sender.command(user, general.id, "declare Globex checkout down sev2")
                eventually(lambda: slack.responses(url), what="answer through the installed token")
                state_ = eventually(lambda: (s := app.queries.get(org_id, "INC-1")) and "slack" in s.rooms and s)
                assert slack.channel(state_.rooms["slack"].room_id).name.startswith("inc-")
                owner = make_engine(db_url, app_role=None)  # what a database dump or backup would show
                with owner.connect() as conn:
                    stored = conn.execute(sa.text("SELECT bot_token FROM slack_bots UNION ALL "
                                                  "SELECT bot_token FROM slack_installations")).scalars().all()
                owner.dispose()
                assert stored and all(t.startswith("fernet:") and "xoxb" not in t for t in stored)
        finally:
            app.close()
