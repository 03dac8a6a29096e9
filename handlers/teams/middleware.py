"""Tenant middleware: the activity's Entra tenant must be bound to an org; its conversation is remembered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from botbuilder.core import InvokeResponse, Middleware, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from handlers.teams.activity import (
    TeamsTenant,
    channel_of,
    is_addressed,
    kind_of,
    mentions,
    stored_reference,
    team_of,
    tenant_of,
)
from handlers.teams.commands import reply
from handlers.teams.errors import ERROR_TYPE
from handlers.teams.ids import TENANT_KEY
from handlers.teams.markdown import TeamsText
from handlers.teams.people import seen_in
from handlers.teams.services import TeamsServices
from incident_core import richtext as rt


def unlinked(tenant: str) -> rt.Rich:
    """What a person in a tenant bound to no org is told (the tenant id, from the activity, in code)."""
    return rt.doc(rt.para("This Microsoft Teams tenant is not linked to a Runbook Revenant org. An admin can run ",
                          rt.code(f"revenant org link-teams ORG {tenant}"), "."))


class TenantMiddleware(Middleware):
    """Puts a TeamsTenant into the turn state, or stops the turn for unknown tenants (nothing is written).

    For known tenants it remembers the conversation and the Teams accounts the activity shows (the sender,
    the people a message mentions), so the bot can @mention them later."""

    def __init__(self, services: TeamsServices) -> None:
        self.services = services

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable]) -> None:
        activity = context.activity
        tenant = tenant_of(activity)
        org_id = await asyncio.to_thread(self.services.bound_org, tenant) if tenant else None
        if org_id is None or tenant is None:
            await self._refuse(context, tenant or "TENANT_ID")
            return
        context.turn_state[TENANT_KEY] = TeamsTenant(org_id=org_id, tenant_id=tenant)
        await asyncio.to_thread(self._remember, org_id, tenant, activity)
        await logic()

    def _remember(self, org_id: str, tenant: str, activity: Activity) -> None:
        if activity.service_url and activity.conversation and activity.conversation.id:
            self.services.store.remember(org_id, stored_reference(activity), kind=kind_of(activity),
                                         tenant_id=tenant, team_id=team_of(activity), channel_id=channel_of(activity))
        if self.services.people is not None:
            seen = seen_in(activity, mentions(activity) if activity.type == ActivityTypes.message else [])
            if seen:
                self.services.people.note(org_id, tenant, seen)

    @staticmethod
    async def _refuse(context: TurnContext, tenant: str) -> None:
        activity = context.activity
        said = unlinked(tenant)
        if activity.type == ActivityTypes.invoke:
            body = {"statusCode": 403, "type": ERROR_TYPE,
                    "value": {"code": "TenantNotLinked", "message": TeamsText().toast(said)}}
            await context.send_activity(Activity(type=ActivityTypes.invoke_response,
                                                 value=InvokeResponse(status=200, body=body)))
        elif activity.type == ActivityTypes.message and is_addressed(activity):
            await reply(context, said)
