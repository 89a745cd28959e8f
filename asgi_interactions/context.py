"""The Context handed to every handler: the parsed interaction plus ways to answer it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .errors import ResponseError
from .models import Interaction, Member, User
from .responses import Message, callback_payload, deferred_payload, message_payload

if TYPE_CHECKING:
    from .app import InteractionApp
    from .rest import RestClient

__all__ = ["Context", "InitialResponse"]

Files = list[tuple[str, bytes]]


class InitialResponse:
    """The first answer to an interaction, handed from the handler side to whoever delivers it.

    The HTTP endpoint writes it as the POST's reply (or as a callback call plus 202 when it carries
    files); the gateway path posts it to the callback endpoint. ``sent`` resolves once it is out,
    so ``await ctx.defer()`` returns only when a follow-up may follow.
    """

    __slots__ = ("_done", "_sent", "deferred", "files", "payload")

    def __init__(self, payload: dict[str, Any], files: Files, *, deferred: bool = False) -> None:
        self.payload = payload
        self.files = files
        self.deferred = deferred
        self._done = False
        self._sent: asyncio.Future[None] | None = None  # made when first awaited: most never are

    @property
    def sent(self) -> asyncio.Future[None]:
        """Resolves once the response is out (or its delivery failed)."""
        if self._sent is None:
            self._sent = asyncio.get_running_loop().create_future()
            if self._done:
                self._sent.set_result(None)
        return self._sent

    def mark_sent(self) -> None:
        """Resolve ``sent`` (idempotent): whoever delivers the response calls it, failed or not."""
        self._done = True
        if self._sent is not None and not self._sent.done():
            self._sent.set_result(None)


class Context:
    """What a handler receives: the interaction, the app, its REST client and the reply methods.

    ``app`` is the ``InteractionApp`` (typed so for users); the context itself only uses its
    ``rest`` and ``application_id``, so it never imports the app at run time.
    """

    __slots__ = ("_initial", "_waiter", "app", "interaction")

    def __init__(self, interaction: Interaction, app: InteractionApp) -> None:
        self.interaction = interaction
        self.app = app
        self._initial: InitialResponse | None = None
        # A future only for a runner that has to wait (a handler that suspends): most never do.
        self._waiter: asyncio.Future[InitialResponse] | None = None

    # -- shortcuts into the interaction -------------------------------------------------------

    @property
    def user(self) -> User | None:
        """The invoking user: ``member.user`` in a guild, ``user`` in a DM."""
        member = self.interaction.member
        if member is not None and member.user is not None:
            return member.user
        return self.interaction.user

    @property
    def member(self) -> Member | None:
        """The invoking guild member, or None outside guilds."""
        return self.interaction.member

    @property
    def guild_id(self) -> int | None:
        """The guild the interaction happened in, if any."""
        return self.interaction.guild_id

    @property
    def channel_id(self) -> int | None:
        """The channel the interaction happened in, if known."""
        return self.interaction.channel_id

    @property
    def locale(self) -> str | None:
        """The invoking user's locale (absent on PING)."""
        return self.interaction.locale

    @property
    def values(self) -> list[str]:
        """Selected values of a select menu (an empty list for anything else)."""
        values = getattr(self.interaction.data, "values", None)
        return list(values) if isinstance(values, list) else []

    @property
    def rest(self) -> RestClient:
        """The app's REST client (interaction webhooks work without a bot token)."""
        return self.app.rest

    @property
    def application_id(self) -> int:
        """The application id, from the interaction (always present on real interactions)."""
        app_id = self.interaction.application_id or self.app.application_id
        if app_id is None:
            raise ResponseError("the application id is unknown: set application_id")
        return app_id

    @property
    def responded(self) -> bool:
        """True once the initial response (a reply or a deferral) has been handed over."""
        return self._initial is not None

    @property
    def deferred(self) -> bool:
        """True if the initial response was a deferral, so the result must edit ``@original``."""
        return self._initial is not None and self._initial.deferred

    # -- answering -----------------------------------------------------------------------------

    async def defer(self, ephemeral: bool = False) -> None:
        """Acknowledge now (type 5, or 6 for components); the handler's result edits it later."""
        if self._initial is not None:
            return
        payload = deferred_payload(self.interaction.type, ephemeral)
        await self._send_initial(InitialResponse(payload, [], deferred=True))

    async def respond(self, result: Message | str | Any) -> None:
        """Send the initial response now and keep working; later output goes to follow-ups."""
        if self._initial is not None:
            raise ResponseError("this interaction already has its initial response")
        interaction = self.interaction
        payload, files = callback_payload(
            result, interaction.type, from_message=interaction.message is not None
        )
        await self._send_initial(InitialResponse(payload, files))

    async def followup(self, message: Message | str) -> dict[str, Any]:
        """Post a follow-up message (after the initial response); returns Discord's message."""
        payload, files = message_payload(message)
        created: dict[str, Any] = await self.rest.create_followup(
            self.application_id, self.interaction.token or "", payload, files=files or None
        )
        return created

    async def edit_original(self, message: Message | str) -> dict[str, Any]:
        """Edit the original response (or, after a component deferral, the component's message)."""
        payload, files = message_payload(message, edit=True)
        edited: dict[str, Any] = await self.rest.edit_original_response(
            self.application_id, self.interaction.token or "", payload, files=files or None
        )
        return edited

    async def delete_original(self) -> None:
        """Delete the original response."""
        await self.rest.delete_original_response(self.application_id, self.interaction.token or "")

    async def _send_initial(self, response: InitialResponse) -> None:
        self._offer_initial(response)
        await response.sent

    def _offer_initial(self, response: InitialResponse) -> bool:
        """Set the initial response unless one was already set (used by the app; no waiting)."""
        if self._initial is not None:
            return False
        self._initial = response
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(response)
        return True

    def _initial_future(self) -> asyncio.Future[InitialResponse]:
        """A future of the initial response, for whoever delivers it (made on first call)."""
        waiter = self._waiter
        if waiter is None:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            if self._initial is not None:
                waiter.set_result(self._initial)
        return waiter

    def _abandon_initial(self) -> None:
        """Whoever was to deliver the initial response is gone (its request was cancelled):
        resolve what a handler may be waiting on, so ``ctx.defer()`` returns instead of hanging."""
        initial = self._initial
        if initial is None:
            initial = self._initial = InitialResponse({}, [])  # later offers are refused
        initial.mark_sent()

    def __repr__(self) -> str:
        i = self.interaction
        return f"<Context interaction id={i.id} type={i.type}>"
