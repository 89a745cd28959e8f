"""Lazily validated interactions: what every handler needs now, the rest on first use.

A 2.5 KB guild command carries the guild, channel, member and user objects; most handlers never
read them, and building them costs more than the rest of the request after the signature check.
``parse_lazily(body)`` validates the fields the library and most handlers read (``type``, ``id``,
``token``, ``data``, ``message``, the ids and locales) and defers ``member``, ``user``, ``guild``,
``channel``, ``entitlements``, ``authorizing_integration_owners`` and unknown fields: the first
access to any of them (or ``model_dump``, ``==``, ``repr``, copying, pickling) validates them from
the kept body, with the same models and types as a full ``Interaction.model_validate_json``.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model
from pydantic_core import CoreSchema, SchemaValidator, core_schema

if TYPE_CHECKING:
    from .interaction import Interaction

__all__ = ["DEFERRED_FIELDS", "LazyFields", "parse_lazily", "parse_request"]

DEFERRED_FIELDS = (
    "guild",
    "channel",
    "member",
    "user",
    "entitlements",
    "authorizing_integration_owners",
)
"""Fields validated on first use; everything else of an ``Interaction`` is validated at once."""

_BODY = "_lazy_body"  # key in __pydantic_private__ while the deferred fields are pending


class LazyFields:
    """Mixin for ``Interaction``: completes a lazily parsed instance before it is inspected whole.

    Instances from ``model_validate``/``model_validate_json`` are complete, and every method here
    is then a plain pass-through.
    """

    __slots__ = ()

    def _complete(self) -> None:
        """Validate the deferred fields from the kept body (once); raises ValidationError."""
        private = self.__pydantic_private__  # type: ignore[attr-defined]
        if not private or _BODY not in private:
            return
        assert _Parsers.deferred is not None
        rest = _Parsers.deferred.validate_json(private[_BODY])
        fields = type(self).model_fields  # type: ignore[attr-defined]
        have = self.__dict__
        got = rest.__dict__
        # Declared order, as a full validation gives; a value assigned meanwhile is kept.
        complete = {name: have[name] if name in have else got[name] for name in fields}
        extra = {k: v for k, v in (rest.__pydantic_extra__ or {}).items() if k not in fields}
        object.__setattr__(self, "__dict__", complete)
        object.__setattr__(self, "__pydantic_extra__", extra)
        self.__pydantic_fields_set__ |= rest.__pydantic_fields_set__  # type: ignore[attr-defined]
        object.__setattr__(self, "__pydantic_private__", None)

    if not TYPE_CHECKING:  # as pydantic does: keep attribute typos visible to type checkers

        def __getattr__(self, name: str) -> Any:
            private = object.__getattribute__(self, "__pydantic_private__")
            if private and _BODY in private and not name.startswith("__"):
                self._complete()
                return getattr(self, name)
            return super().__getattr__(name)

    @property
    def model_extra(self) -> dict[str, Any] | None:
        """Unknown fields Discord sent (see pydantic's ``model_extra``)."""
        self._complete()
        return self.__pydantic_extra__  # type: ignore[attr-defined, no-any-return]

    @property
    def model_fields_set(self) -> set[str]:
        """Fields present in the payload (see pydantic's ``model_fields_set``)."""
        self._complete()
        return self.__pydantic_fields_set__  # type: ignore[attr-defined, no-any-return]

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        self._complete()
        return super().model_dump(**kwargs)  # type: ignore[misc, no-any-return]

    def model_dump_json(self, **kwargs: Any) -> str:
        self._complete()
        return super().model_dump_json(**kwargs)  # type: ignore[misc, no-any-return]

    def model_copy(self, **kwargs: Any) -> Any:
        self._complete()
        return super().model_copy(**kwargs)  # type: ignore[misc]

    def __copy__(self) -> Any:
        self._complete()
        return super().__copy__()  # type: ignore[misc]

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Any:
        self._complete()
        return super().__deepcopy__(memo)  # type: ignore[misc]

    def __getstate__(self) -> dict[Any, Any]:
        self._complete()
        return cast(dict[Any, Any], super().__getstate__())

    def __eq__(self, other: object) -> bool:
        self._complete()
        if isinstance(other, LazyFields):
            other._complete()
        return super().__eq__(other)

    def __iter__(self) -> Any:
        self._complete()
        return super().__iter__()  # type: ignore[misc]

    def __repr_args__(self) -> Any:
        self._complete()
        return super().__repr_args__()  # type: ignore[misc]


class _Parsers:
    """The validators, built on first use from ``Interaction``'s own field definitions."""

    eager: ClassVar[SchemaValidator | None] = None
    request: ClassVar[SchemaValidator | None] = None
    deferred: ClassVar[TypeAdapter[Any] | None] = None
    public: ClassVar[dict[type, type[Interaction]]] = {}  # eager model -> public subclass


def _model(cls: type[BaseModel], names: Any, extra: str) -> type[BaseModel]:
    """A model of ``cls``'s fields ``names`` (same types and settings), with ``extra`` behaviour."""
    fields = cls.model_fields
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        cls.__name__,
        __config__=ConfigDict(**{**cls.model_config, "extra": extra}),  # type: ignore[typeddict-item]
        **{n: (fields[n].annotation, fields[n]) for n in names},
    )
    return model


def _build() -> SchemaValidator:
    """Two tagged unions on ``type``: ``eager``, one model per public subclass (its fields but
    the deferred ones, unknown fields ignored), and ``request``, the same but PING, which only
    reads ``type``. ``type`` stays a strict integer inside each choice."""
    from .interaction import (
        AutocompleteInteraction,
        CommandInteraction,
        ComponentInteraction,
        Interaction,
        ModalSubmitInteraction,
        PingInteraction,
    )

    classes: dict[int, type[Interaction]] = {
        1: PingInteraction,
        2: CommandInteraction,
        3: ComponentInteraction,
        4: AutocompleteInteraction,
        5: ModalSubmitInteraction,
    }
    choices: dict[Hashable, CoreSchema] = {}
    definitions: dict[str, CoreSchema] = {}
    for tag, cls in classes.items():
        names = [n for n in cls.model_fields if n not in DEFERRED_FIELDS]
        schema: Any = _model(cls, names, "ignore").__pydantic_core_schema__
        if schema["type"] == "definitions":
            for definition in schema["definitions"]:
                definitions[definition["ref"]] = definition
            schema = schema["schema"]
        _Parsers.public[schema["cls"]] = cls
        choices[tag] = schema
    ping: CoreSchema = core_schema.typed_dict_schema(
        {"type": core_schema.typed_dict_field(core_schema.int_schema(strict=True))},
        extra_behavior="ignore",
    )
    found = list(definitions.values())

    def union(with_ping: CoreSchema) -> SchemaValidator:
        tagged = core_schema.tagged_union_schema({**choices, 1: with_ping}, discriminator="type")
        return SchemaValidator(core_schema.definitions_schema(tagged, found))

    eager = union(choices[1])
    _Parsers.request = union(ping)
    deferred = _model(Interaction, DEFERRED_FIELDS, "allow")
    _Parsers.deferred = TypeAdapter(deferred)
    _Parsers.eager = eager
    return eager


def _lazy(instance: Any, body: bytes | bytearray | str) -> Interaction:
    """Keep the body on a freshly validated eager instance, for its deferred fields."""
    kept = bytes(body) if isinstance(body, bytearray) else body
    setattr_ = object.__setattr__
    # The eager model has the public subclass's layout (pydantic's four slots) and a subset of
    # its fields: the instance becomes one in place, the deferred fields pending.
    setattr_(instance, "__class__", _Parsers.public[type(instance)])
    setattr_(instance, "__pydantic_extra__", {})
    setattr_(instance, "__pydantic_private__", {_BODY: kept})
    return cast("Interaction", instance)


def parse_lazily(body: bytes | bytearray | str) -> Interaction:
    """Parse a request body like ``Interaction.model_validate_json``, deferring the fields above.

    Bodies the fast path cannot type with certainty (an unknown ``type``, or anything invalid) go
    through ``Interaction.model_validate_json``, so invalid ones raise the same ValidationError;
    the deferred fields are validated on first use and may raise ValidationError then.
    """
    validator = _Parsers.eager or _build()
    try:
        eager = validator.validate_json(body)
    except ValidationError:
        from .interaction import Interaction

        return Interaction.model_validate_json(body)
    return _lazy(eager, body)


def parse_request(body: bytes | bytearray | str) -> Interaction | None:
    """`parse_lazily` for the endpoint: None for a PING (its ``type`` read strictly, nothing else:
    it is answered with constant bytes), else the same lazily validated interaction."""
    if _Parsers.request is None:
        _build()
    assert _Parsers.request is not None
    try:
        parsed = _Parsers.request.validate_json(body)
    except ValidationError:
        from .interaction import Interaction

        return Interaction.model_validate_json(body)
    if type(parsed) is dict:
        return None
    return _lazy(parsed, body)
