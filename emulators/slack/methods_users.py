"""auth.test, users.* and oauth.v2.access."""

from __future__ import annotations

import base64
import secrets

from emulators.slack.api import Call, Registry, Result, paginate
from emulators.slack.serialize import user_json
from emulators.slack.state import SlackError, Token

users = Registry()


@users.method("auth.test")
def auth_test(call: Call) -> Result:
    """Who the token is."""
    token, team = call.token, call.team
    assert token is not None
    user = call.state.users[token.user_id]
    result: Result = {
        "url": f"https://{team.domain}.slack.com/",
        "team": team.name,
        "user": user.name,
        "team_id": team.id,
        "user_id": user.id,
    }
    if token.bot_id:
        result["bot_id"] = token.bot_id
    if team.enterprise_id:
        result["enterprise_id"] = team.enterprise_id
    result["is_enterprise_install"] = False
    return result


@users.method("users.info")
def users_info(call: Call) -> Result:
    """One user."""
    return {"user": user_json(call.user(call.get_str("user", required=True)))}


@users.method("users.list")
def users_list(call: Call) -> Result:
    """Members of the workspace, paginated."""
    members = [u for u in call.state.users.values() if u.team_id == call.team.id]
    page, cursor = paginate(members, call, default_limit=200)
    return {
        "members": [user_json(u) for u in page],
        "cache_ts": call.state.now(),
        "response_metadata": {"next_cursor": cursor},
    }


@users.method("users.lookupByEmail")
def users_lookup_by_email(call: Call) -> Result:
    """A user by email address (error users_not_found, plural, as Slack spells it)."""
    email = (call.get_str("email") or "").lower()
    for user in call.state.users.values():
        if user.team_id == call.team.id and user.email and user.email.lower() == email and not user.deleted:
            return {"user": user_json(user)}
    raise SlackError("users_not_found")


def _client_credentials(call: Call) -> tuple[str, str]:
    header = call.auth_header
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return client_id, secret
        except ValueError:
            return "", ""
    return call.get_str("client_id") or "", call.get_str("client_secret") or ""


@users.method("oauth.v2.access", auth=False)
def oauth_v2_access(call: Call) -> Result:
    """Exchange an OAuth code for a bot token (and the installing user's token)."""
    state = call.state
    client_id, secret = _client_credentials(call)
    if client_id != state.client_id:
        raise SlackError("invalid_client_id")
    if secret != state.client_secret:
        raise SlackError("bad_client_secret")
    code = state.oauth_codes.get(call.get_str("code") or "")
    if code is None or code.used:
        raise SlackError("invalid_code")
    redirect = call.get_str("redirect_uri")
    if code.redirect_uri and redirect and redirect != code.redirect_uri:
        raise SlackError("bad_redirect_uri")
    code.used = True
    team = state.teams[code.team_id]
    bot_user = state.users[state.bot_users[team.id]]
    bot_token = Token(
        value=f"xoxb-{secrets.token_hex(6)}-{secrets.token_hex(6)}",
        team_id=team.id,
        user_id=bot_user.id,
        kind="bot",
        scopes=code.scopes,
        bot_id=bot_user.bot_id,
        app_id=state.app_id,
    )
    state.tokens[bot_token.value] = bot_token
    result: Result = {
        "app_id": state.app_id,
        "authed_user": {"id": code.user_id},
        "scope": ",".join(sorted(code.scopes)),
        "token_type": "bot",
        "access_token": bot_token.value,
        "bot_user_id": bot_user.id,
        "team": {"name": team.name, "id": team.id},
        "enterprise": {"name": team.enterprise_name, "id": team.enterprise_id}
        if team.enterprise_id
        else None,
        "is_enterprise_install": False,
    }
    if code.user_scopes:
        user_token = Token(
            value=f"xoxp-{secrets.token_hex(6)}-{secrets.token_hex(6)}",
            team_id=team.id,
            user_id=code.user_id,
            kind="user",
            scopes=code.user_scopes,
        )
        state.tokens[user_token.value] = user_token
        result["authed_user"].update(
            {
                "scope": ",".join(sorted(code.user_scopes)),
                "access_token": user_token.value,
                "token_type": "user",
            }
        )
    return result
