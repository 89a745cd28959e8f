"""Message, Modal, Choice and AllowedMentions: what handlers return, checked against limits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..models.enums import MessageFlags
from ._checks import check_count, check_length
from .components import AnyComponent, component_data
from .embed import Embed, check_embeds
from .errors import InvalidResponseError
from .layout import check_message_components, check_unique_custom_ids, modal_component, wrap_in_rows

__all__ = ["AllowedMentions", "Choice", "File", "Message", "Modal"]

MAX_CONTENT = 2000
MAX_ATTACHMENTS = 10
MAX_CHOICE_NAME = 100
MAX_CHOICE_STRING = 100
MAX_MODAL_TITLE = 45
MAX_MODAL_COMPONENTS = 5
MAX_MENTION_IDS = 100
_EPHEMERAL = int(MessageFlags.EPHEMERAL)
_V2 = int(MessageFlags.IS_COMPONENTS_V2)

File = tuple[str, bytes] | tuple[str, bytes, str]
"""An upload: ``(filename, data)`` or ``(filename, data, description)``."""


class AllowedMentions:
    """Which mentions may ping; omitted by default (interaction replies then ping users only)."""

    __slots__ = ("parse", "replied_user", "roles", "users")

    def __init__(
        self,
        *,
        parse: Iterable[str] = (),
        users: Iterable[int | str] | None = None,
        roles: Iterable[int | str] | None = None,
        replied_user: bool | None = None,
    ) -> None:
        self.parse = list(parse)
        for kind in self.parse:
            if kind not in ("users", "roles", "everyone"):
                raise ValueError(
                    f"allowed_mentions parse entry {kind!r} is not users/roles/everyone"
                )
        self.users = [str(u) for u in users] if users is not None else None
        self.roles = [str(r) for r in roles] if roles is not None else None
        for kind, ids in (("users", self.users), ("roles", self.roles)):
            if ids:
                check_count(f"allowed_mentions {kind}", len(ids), MAX_MENTION_IDS)
                if kind in self.parse:
                    raise InvalidResponseError(
                        f"allowed_mentions cannot both parse {kind!r} and list {kind} ids"
                    )
        self.replied_user = replied_user

    @classmethod
    def none(cls) -> AllowedMentions:
        """Ping nobody."""
        return cls()

    @classmethod
    def all(cls) -> AllowedMentions:
        """Ping users, roles and @everyone/@here (permissions permitting)."""
        return cls(parse=("users", "roles", "everyone"))

    def to_data(self) -> dict[str, Any]:
        """The allowed_mentions object as Discord JSON."""
        data: dict[str, Any] = {"parse": self.parse}
        if self.users is not None:
            data["users"] = self.users
        if self.roles is not None:
            data["roles"] = self.roles
        if self.replied_user is not None:
            data["replied_user"] = self.replied_user
        return data


class Message:
    """A message reply (callback types 4/7) or a webhook body (follow-up, edit of the original).

    ``ephemeral=True`` sets flag 64; ``update=True`` edits the message a component sits on;
    ``files=[("name.png", data)]`` uploads files, referenced as ``attachment://name.png``.
    Bare buttons and selects in ``components`` are wrapped in action rows.
    """

    __slots__ = (
        "_files",
        "allowed_mentions",
        "attachments",
        "components",
        "content",
        "embeds",
        "flags",
        "tts",
        "update",
    )

    def __init__(
        self,
        content: str | None = None,
        *,
        embeds: Sequence[Embed | Mapping[str, Any]] | Embed | None = None,
        components: Iterable[AnyComponent] | None = None,
        ephemeral: bool = False,
        flags: int | None = None,
        allowed_mentions: AllowedMentions | Mapping[str, Any] | None = None,
        tts: bool | None = None,
        files: Iterable[File] | None = None,
        update: bool = False,
        attachments: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        if content is not None and not isinstance(content, str):
            raise TypeError(f"content must be a str, got {type(content).__name__}")
        check_length("message content", content, MAX_CONTENT)
        if ephemeral:
            flags = (flags or 0) | _EPHEMERAL
        v2 = flags is not None and bool(flags & _V2)
        self.content = content
        self.embeds: list[Embed | Mapping[str, Any]] | None = (
            [embeds] if isinstance(embeds, Embed) else list(embeds) if embeds is not None else None
        )
        if self.embeds:
            check_embeds(self.embeds)
        if v2 and (content or self.embeds):
            raise InvalidResponseError(
                "a Components V2 message (flag IS_COMPONENTS_V2) cannot have content or embeds; "
                "use TextDisplay components"
            )
        self.components = wrap_in_rows(components) if components is not None else None
        if self.components:
            check_message_components(self.components, v2=v2)
        self.flags = flags
        self.allowed_mentions = allowed_mentions
        self.tts = tts
        self.update = update
        self._files: list[tuple[str, bytes, str | None]] = []
        for file in files or ():
            name, data = file[0], file[1]
            description = file[2] if len(file) > 2 else None
            if not isinstance(name, str) or not name:
                raise ValueError(f"a file needs a non-empty filename, got {name!r}")
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(f"file {name!r} data must be bytes, got {type(data).__name__}")
            check_length("file description", description, 1024)
            self._files.append((name, bytes(data), description))
        self.attachments = [dict(a) for a in attachments] if attachments is not None else None
        total = len(self._files) + len(self.attachments or ())
        check_count("attachments per message", total, MAX_ATTACHMENTS)

    @property
    def ephemeral(self) -> bool:
        """True when flag 64 (EPHEMERAL) is set."""
        return bool(self.flags and self.flags & _EPHEMERAL)

    @property
    def files(self) -> list[tuple[str, bytes]]:
        """The uploads as ``(filename, bytes)``; ``files[n]`` is attachment id ``n``."""
        return [(name, data) for name, data, _ in self._files]

    def to_data(self) -> dict[str, Any]:
        """Callback data / webhook body; ``attachments`` has ``{"id": n, "filename"}`` per file."""
        data: dict[str, Any] = {}
        if self.content is not None:
            data["content"] = self.content
        if self.embeds is not None:
            if self.embeds:
                check_embeds(self.embeds)
            data["embeds"] = [e.to_data() if isinstance(e, Embed) else e for e in self.embeds]
        if self.components is not None:
            data["components"] = [component_data(c) for c in self.components]
        if self.flags is not None:
            data["flags"] = self.flags
        if self.allowed_mentions is not None:
            mentions = self.allowed_mentions
            data["allowed_mentions"] = (
                mentions.to_data() if isinstance(mentions, AllowedMentions) else dict(mentions)
            )
        if self.tts is not None:
            data["tts"] = self.tts
        if self.attachments is not None or self._files:
            attachments = list(self.attachments or ())
            for index, (name, _, description) in enumerate(self._files):
                item: dict[str, Any] = {"id": index, "filename": name}
                if description is not None:
                    item["description"] = description
                attachments.append(item)
            data["attachments"] = attachments
        return data

    def __repr__(self) -> str:
        parts = [f"content={self.content!r}"] if self.content is not None else []
        if self.embeds:
            parts.append(f"embeds={len(self.embeds)}")
        if self.components:
            parts.append(f"components={len(self.components)}")
        if self._files:
            parts.append(f"files={[name for name, _, _ in self._files]!r}")
        if self.flags:
            parts.append(f"flags={self.flags}")
        if self.update:
            parts.append("update=True")
        return f"Message({', '.join(parts)})"


class Modal:
    """A modal (callback type 9): title ≤ 45, custom_id 1-100, 1-5 top-level components.

    TextInputs are sent as Label-wrapped inputs; Label, TextDisplay, legacy ActionRow and raw
    dicts are accepted too.
    """

    __slots__ = ("components", "custom_id", "title")

    def __init__(self, custom_id: str, title: str, components: Iterable[AnyComponent]) -> None:
        check_length("modal custom_id", custom_id, 100, minimum=1)
        check_length("modal title", title, MAX_MODAL_TITLE, minimum=1)
        self.components = [modal_component(c) for c in components]
        check_count("modal components", len(self.components), MAX_MODAL_COMPONENTS, minimum=1)
        check_unique_custom_ids(self.components, "modal")
        self.custom_id = custom_id
        self.title = title

    def to_data(self) -> dict[str, Any]:
        """The modal callback data."""
        return {
            "custom_id": self.custom_id,
            "title": self.title,
            "components": [component_data(c) for c in self.components],
        }

    def __repr__(self) -> str:
        return f"Modal(custom_id={self.custom_id!r}, title={self.title!r})"


class Choice:
    """An autocomplete suggestion or option choice: name 1-100, value a str ≤ 100 or a number."""

    __slots__ = ("name", "name_localizations", "value")

    def __init__(
        self,
        name: str,
        value: str | int | float,
        *,
        name_localizations: Mapping[str, str] | None = None,
    ) -> None:
        check_length("choice name", name, MAX_CHOICE_NAME, minimum=1)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TypeError(f"a choice value is a str, int or float, got {type(value).__name__}")
        if isinstance(value, str):
            check_length("choice value", value, MAX_CHOICE_STRING)
        self.name = name
        self.value = value
        self.name_localizations = dict(name_localizations) if name_localizations else None

    def to_data(self) -> dict[str, Any]:
        """The choice as Discord JSON."""
        data: dict[str, Any] = {"name": self.name, "value": self.value}
        if self.name_localizations is not None:
            data["name_localizations"] = self.name_localizations
        return data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Choice):
            return NotImplemented
        return (self.name, self.value) == (other.name, other.value)

    def __hash__(self) -> int:
        return hash((self.name, self.value))

    def __repr__(self) -> str:
        return f"Choice(name={self.name!r}, value={self.value!r})"
