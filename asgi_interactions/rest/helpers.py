"""``RestClient``'s typed helpers: one method per endpoint the library uses, over ``request``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["FileTuple", "RestHelpers"]

FileTuple = tuple[str, bytes]


class RestHelpers:
    """Typed helpers for messages, commands, interactions and webhooks (mixed into
    ``RestClient``, which provides ``request``)."""

    async def request(
        self,
        method: str,
        route_template: str,
        *,
        json: Any = None,
        files: Sequence[FileTuple] | None = None,
        params: Mapping[str, Any] | None = None,
        reason: str | None = None,
        auth: bool = True,
        **path: Any,
    ) -> Any:
        raise NotImplementedError

    def _learn_application_id(self, application_id: int | str) -> None:
        """An interaction helper was called with the application's id (no-op by default)."""

    # ---------------------------------------------------------------- typed helpers: messages

    async def create_message(
        self,
        channel_id: int | str,
        content: str | None = None,
        *,
        files: Sequence[FileTuple] | None = None,
        **fields: Any,
    ) -> Any:
        """POST a message to a channel; ``fields`` are Create Message JSON fields (embeds, ...)."""
        body = dict(fields)
        if content is not None:
            body["content"] = content
        return await self.request(
            "POST", "/channels/{channel_id}/messages", channel_id=channel_id, json=body, files=files
        )

    async def edit_message(
        self,
        channel_id: int | str,
        message_id: int | str,
        *,
        files: Sequence[FileTuple] | None = None,
        **fields: Any,
    ) -> Any:
        """PATCH a message; ``fields`` are Edit Message JSON fields (``content=None`` clears)."""
        return await self.request(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
            json=fields,
            files=files,
        )

    async def delete_message(
        self, channel_id: int | str, message_id: int | str, *, reason: str | None = None
    ) -> None:
        """DELETE a message (``reason`` goes to the audit log)."""
        await self.request(
            "DELETE",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
            reason=reason,
        )

    async def get_message(self, channel_id: int | str, message_id: int | str) -> Any:
        """GET one message."""
        return await self.request(
            "GET",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
        )

    async def add_reaction(self, channel_id: int | str, message_id: int | str, emoji: str) -> None:
        """Add the bot's reaction: ``emoji`` is a unicode emoji or ``name:id`` for a custom one."""
        await self.request(
            "PUT",
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            channel_id=channel_id,
            message_id=message_id,
            emoji=emoji,
        )

    async def get_channel(self, channel_id: int | str) -> Any:
        """GET a channel."""
        return await self.request("GET", "/channels/{channel_id}", channel_id=channel_id)

    async def get_current_user(self) -> Any:
        """GET the bot's own user (``/users/@me``)."""
        return await self.request("GET", "/users/@me")

    async def get_gateway_bot(self) -> Any:
        """GET ``/gateway/bot``: the gateway URL, recommended shards and session start limit."""
        return await self.request("GET", "/gateway/bot")

    # ---------------------------------------------------------------- application commands

    async def get_global_commands(
        self, application_id: int | str, *, with_localizations: bool = True
    ) -> Any:
        """List the application's global commands (with every locale's names and descriptions
        unless ``with_localizations=False``)."""
        return await self.request(
            "GET",
            "/applications/{application_id}/commands",
            params={"with_localizations": with_localizations},
            application_id=application_id,
        )

    async def bulk_overwrite_global_commands(
        self, application_id: int | str, commands: Sequence[Mapping[str, Any]]
    ) -> Any:
        """Replace all global commands with ``commands``; returns what Discord stored."""
        return await self.request(
            "PUT",
            "/applications/{application_id}/commands",
            application_id=application_id,
            json=list(commands),
        )

    async def get_guild_commands(
        self,
        application_id: int | str,
        guild_id: int | str,
        *,
        with_localizations: bool = True,
    ) -> Any:
        """List the application's commands in one guild (localizations as for
        ``get_global_commands``)."""
        return await self.request(
            "GET",
            "/applications/{application_id}/guilds/{guild_id}/commands",
            params={"with_localizations": with_localizations},
            application_id=application_id,
            guild_id=guild_id,
        )

    async def bulk_overwrite_guild_commands(
        self,
        application_id: int | str,
        guild_id: int | str,
        commands: Sequence[Mapping[str, Any]],
    ) -> Any:
        """Replace all of one guild's commands with ``commands``."""
        return await self.request(
            "PUT",
            "/applications/{application_id}/guilds/{guild_id}/commands",
            application_id=application_id,
            guild_id=guild_id,
            json=list(commands),
        )

    # ---------------------------------------------------------------- interactions (no token)

    async def create_interaction_response(
        self,
        interaction_id: int | str,
        token: str,
        payload: Mapping[str, Any],
        files: Sequence[FileTuple] | None = None,
        *,
        with_response: bool = False,
    ) -> Any:
        """POST the interaction callback (``{"type": ..., "data": ...}``); ``None`` unless
        ``with_response``."""
        return await self.request(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            interaction_id=interaction_id,
            interaction_token=token,
            json=dict(payload),
            files=files,
            params={"with_response": True} if with_response else None,
            auth=False,
        )

    async def get_original_response(self, application_id: int | str, token: str) -> Any:
        """GET the original interaction response message."""
        return await self._webhook("GET", "/messages/@original", application_id, token)

    async def edit_original_response(
        self,
        application_id: int | str,
        token: str,
        payload: Mapping[str, Any],
        files: Sequence[FileTuple] | None = None,
    ) -> Any:
        """PATCH the original interaction response (also how a deferred response is filled)."""
        return await self._webhook(
            "PATCH", "/messages/@original", application_id, token, payload, files
        )

    async def delete_original_response(self, application_id: int | str, token: str) -> None:
        """DELETE the original interaction response."""
        await self._webhook("DELETE", "/messages/@original", application_id, token)

    async def create_followup(
        self,
        application_id: int | str,
        token: str,
        payload: Mapping[str, Any],
        files: Sequence[FileTuple] | None = None,
    ) -> Any:
        """POST a follow-up message; returns the message."""
        return await self._webhook("POST", "", application_id, token, payload, files)

    async def get_followup(
        self, application_id: int | str, token: str, message_id: int | str
    ) -> Any:
        """GET a follow-up message."""
        return await self._webhook(
            "GET", "/messages/{message_id}", application_id, token, message_id=message_id
        )

    async def edit_followup(
        self,
        application_id: int | str,
        token: str,
        message_id: int | str,
        payload: Mapping[str, Any],
        files: Sequence[FileTuple] | None = None,
    ) -> Any:
        """PATCH a follow-up message."""
        return await self._webhook(
            "PATCH",
            "/messages/{message_id}",
            application_id,
            token,
            payload,
            files,
            message_id=message_id,
        )

    async def delete_followup(
        self, application_id: int | str, token: str, message_id: int | str
    ) -> None:
        """DELETE a follow-up message."""
        await self._webhook(
            "DELETE", "/messages/{message_id}", application_id, token, message_id=message_id
        )

    async def _webhook(
        self,
        method: str,
        suffix: str,
        application_id: int | str,
        token: str,
        payload: Mapping[str, Any] | None = None,
        files: Sequence[FileTuple] | None = None,
        **path: Any,
    ) -> Any:
        self._learn_application_id(application_id)
        return await self.request(
            method,
            "/webhooks/{application_id}/{interaction_token}" + suffix,
            application_id=application_id,
            interaction_token=token,
            json=dict(payload) if payload is not None else None,
            files=files,
            auth=False,
            **path,
        )

    # ---------------------------------------------------------------- regular webhooks

    async def execute_webhook(
        self,
        webhook_id: int | str,
        token: str,
        payload: Mapping[str, Any],
        files: Sequence[FileTuple] | None = None,
        *,
        wait: bool = True,
        thread_id: int | str | None = None,
        auth: bool = False,
    ) -> Any:
        """POST a message through a (non-interaction) webhook; returns it (``None`` unless
        ``wait``). Counts against the host's unauthenticated global pool, or the bot's with
        ``auth=True``: only interaction webhooks are exempt from the global limit."""
        return await self.request(
            "POST",
            "/webhooks/{webhook_id}/{webhook_token}",
            webhook_id=webhook_id,
            webhook_token=token,
            json=dict(payload),
            files=files,
            params={"wait": wait, "thread_id": thread_id},
            auth=auth,
        )

    async def get_webhook_message(
        self,
        webhook_id: int | str,
        token: str,
        message_id: int | str,
        *,
        thread_id: int | str | None = None,
        auth: bool = False,
    ) -> Any:
        """GET a message the webhook sent."""
        return await self.request(
            "GET",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            webhook_id=webhook_id,
            webhook_token=token,
            message_id=message_id,
            params={"thread_id": thread_id},
            auth=auth,
        )

    async def edit_webhook_message(
        self,
        webhook_id: int | str,
        token: str,
        message_id: int | str,
        payload: Mapping[str, Any],
        files: Sequence[FileTuple] | None = None,
        *,
        thread_id: int | str | None = None,
        auth: bool = False,
    ) -> Any:
        """PATCH a message the webhook sent; returns it."""
        return await self.request(
            "PATCH",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            webhook_id=webhook_id,
            webhook_token=token,
            message_id=message_id,
            json=dict(payload),
            files=files,
            params={"thread_id": thread_id},
            auth=auth,
        )

    async def delete_webhook_message(
        self,
        webhook_id: int | str,
        token: str,
        message_id: int | str,
        *,
        thread_id: int | str | None = None,
        auth: bool = False,
    ) -> None:
        """DELETE a message the webhook sent."""
        await self.request(
            "DELETE",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
            webhook_id=webhook_id,
            webhook_token=token,
            message_id=message_id,
            params={"thread_id": thread_id},
            auth=auth,
        )
