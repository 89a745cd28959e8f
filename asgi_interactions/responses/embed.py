"""Rich embeds, with Discord's per-field and total-size limits checked as they are set."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ._checks import check_count, check_length, check_range
from .errors import ResponseLimitError

__all__ = ["Embed", "EmbedField", "check_embeds"]

MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER_TEXT = 2048
MAX_AUTHOR_NAME = 256
MAX_EMBEDS = 10
MAX_TOTAL_CHARACTERS = 6000


class EmbedField:
    """One name/value field of an embed (``inline`` puts it side by side with its neighbours)."""

    __slots__ = ("inline", "name", "value")

    def __init__(self, name: str, value: str, inline: bool = False) -> None:
        check_length("embed field name", name, MAX_FIELD_NAME, minimum=1)
        check_length("embed field value", value, MAX_FIELD_VALUE, minimum=1)
        self.name = name
        self.value = value
        self.inline = inline

    def to_data(self) -> dict[str, Any]:
        """The field as Discord JSON."""
        return {"name": self.name, "value": self.value, "inline": self.inline}


def _field(spec: Any) -> EmbedField:
    """Accept EmbedField, (name, value[, inline]) or a {"name", "value", "inline"} mapping."""
    if isinstance(spec, EmbedField):
        return spec
    if isinstance(spec, Mapping):
        return EmbedField(spec["name"], spec["value"], bool(spec.get("inline", False)))
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        return EmbedField(*spec)
    raise TypeError(
        f"an embed field must be EmbedField, (name, value[, inline]) or a dict: {spec!r}"
    )


def _media(value: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An image/thumbnail given as a URL (``attachment://name`` works) or a dict."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"url": value}
    return dict(value)


def _text_part(
    value: str | Mapping[str, Any] | None, key: str, limit: str, maximum: int
) -> dict[str, Any] | None:
    """A footer/author given as its text or as a dict; the text is length-checked."""
    if value is None:
        return None
    part = {key: value} if isinstance(value, str) else dict(value)
    text = part.get(key)
    if not isinstance(text, str):
        raise TypeError(f"{limit} needs a {key!r} string")
    check_length(limit, text, maximum, minimum=1)
    return part


def _color(value: int | str | None) -> int | None:
    """Accept an int 0x000000-0xFFFFFF or a hex string such as ``"#5865F2"``."""
    if isinstance(value, str):
        value = int(value.removeprefix("#").removeprefix("0x"), 16)
    check_range("embed color", value, 0, 0xFFFFFF)
    return value


class Embed:
    """A rich embed. Limits: title 256, description 4096, 25 fields, 6000 characters in total."""

    __slots__ = (
        "_author",
        "_fields",
        "_footer",
        "_image",
        "_thumbnail",
        "color",
        "description",
        "timestamp",
        "title",
        "url",
    )

    def __init__(
        self,
        title: str | None = None,
        description: str | None = None,
        *,
        url: str | None = None,
        color: int | str | None = None,
        timestamp: datetime | str | None = None,
        fields: Iterable[Any] | None = None,
        footer: str | Mapping[str, Any] | None = None,
        author: str | Mapping[str, Any] | None = None,
        image: str | Mapping[str, Any] | None = None,
        thumbnail: str | Mapping[str, Any] | None = None,
    ) -> None:
        check_length("embed title", title, MAX_TITLE)
        check_length("embed description", description, MAX_DESCRIPTION)
        self.title = title
        self.description = description
        self.url = url
        self.color = _color(color)
        self.timestamp = timestamp
        self._fields: list[EmbedField] = [_field(f) for f in fields] if fields is not None else []
        check_count("embed fields", len(self._fields), MAX_FIELDS)
        self._footer = _text_part(footer, "text", "embed footer text", MAX_FOOTER_TEXT)
        self._author = _text_part(author, "name", "embed author name", MAX_AUTHOR_NAME)
        self._image = _media(image)
        self._thumbnail = _media(thumbnail)
        self._check_total()

    @property
    def fields(self) -> list[EmbedField]:
        """The fields, in order (a copy; use ``add_field`` to add)."""
        return list(self._fields)

    def add_field(self, name: str, value: str, *, inline: bool = False) -> Embed:
        """Append a field; returns the embed for chaining."""
        check_count("embed fields", len(self._fields) + 1, MAX_FIELDS)
        self._fields.append(EmbedField(name, value, inline))
        self._check_total()
        return self

    def set_footer(self, text: str, *, icon_url: str | None = None) -> Embed:
        """Set the footer text (≤ 2048) and icon."""
        footer: dict[str, Any] = {"text": text}
        if icon_url is not None:
            footer["icon_url"] = icon_url
        self._footer = _text_part(footer, "text", "embed footer text", MAX_FOOTER_TEXT)
        self._check_total()
        return self

    def set_author(
        self, name: str, *, url: str | None = None, icon_url: str | None = None
    ) -> Embed:
        """Set the author line (name ≤ 256)."""
        author: dict[str, Any] = {"name": name}
        if url is not None:
            author["url"] = url
        if icon_url is not None:
            author["icon_url"] = icon_url
        self._author = _text_part(author, "name", "embed author name", MAX_AUTHOR_NAME)
        self._check_total()
        return self

    def set_image(self, url: str) -> Embed:
        """Set the large image (a URL or ``attachment://filename``)."""
        self._image = {"url": url}
        return self

    def set_thumbnail(self, url: str) -> Embed:
        """Set the thumbnail (a URL or ``attachment://filename``)."""
        self._thumbnail = {"url": url}
        return self

    def character_count(self) -> int:
        """Characters counted toward the 6000 limit (title, description, fields, footer, author)."""
        total = len(self.title or "") + len(self.description or "")
        for field in self._fields:
            total += len(field.name) + len(field.value)
        if self._footer is not None:
            total += len(self._footer["text"])
        if self._author is not None:
            total += len(self._author["name"])
        return total

    def _check_total(self) -> None:
        check_count("embed total characters", self.character_count(), MAX_TOTAL_CHARACTERS)

    def to_data(self) -> dict[str, Any]:
        """The embed as Discord JSON, without unset fields."""
        data: dict[str, Any] = {}
        if self.title is not None:
            data["title"] = self.title
        if self.description is not None:
            data["description"] = self.description
        if self.url is not None:
            data["url"] = self.url
        if self.color is not None:
            data["color"] = self.color
        if self.timestamp is not None:
            ts = self.timestamp
            data["timestamp"] = ts.isoformat() if isinstance(ts, datetime) else ts
        if self._fields:
            data["fields"] = [f.to_data() for f in self._fields]
        if self._footer is not None:
            data["footer"] = self._footer
        if self._author is not None:
            data["author"] = self._author
        if self._image is not None:
            data["image"] = self._image
        if self._thumbnail is not None:
            data["thumbnail"] = self._thumbnail
        return data

    def __repr__(self) -> str:
        return f"Embed(title={self.title!r}, fields={len(self._fields)})"


def check_embeds(embeds: list[Embed | Mapping[str, Any]]) -> None:
    """Message-wide embed limits: at most 10 embeds and 6000 characters across all of them."""
    check_count("embeds per message", len(embeds), MAX_EMBEDS)
    total = 0
    for embed in embeds:
        total += embed.character_count() if isinstance(embed, Embed) else _raw_count(embed)
    if total > MAX_TOTAL_CHARACTERS:
        raise ResponseLimitError(
            "total embed characters in the message", actual=total, maximum=MAX_TOTAL_CHARACTERS
        )


def _raw_count(embed: Mapping[str, Any]) -> int:
    """Character count of an embed given as a raw dict."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for field in embed.get("fields") or ():
        total += len(field.get("name") or "") + len(field.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total
