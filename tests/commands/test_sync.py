"""Command sync against the fake Discord server over a real socket."""

import copy
from typing import Annotated, Any, Literal

import pytest

from asgi_interactions.commands import CommandTree, Option
from asgi_interactions.commands.normalize import normalize_command
from asgi_interactions.commands.sync import compare_scope, sync_commands
from asgi_interactions.models import User
from asgi_interactions.rest import RestClient
from tests.fakes.discord_rest import serve_fake_discord

from .helpers import fake_discord

APP_ID = 1000
GUILD = 4242


def declared() -> CommandTree:
    tree = CommandTree()

    @tree.command(description="Repeat what you say")
    async def echo(
        ctx: Any,
        text: Annotated[str, Option(description="What to say", max_length=200)],
        mode: Literal["loud", "quiet"] = "quiet",
        ratio: Annotated[float, Option(min_value=0.0, max_value=2.0)] = 1.0,
    ) -> None: ...

    admin = tree.group("admin", description="Admin tools", default_member_permissions=8)

    @admin.command(description="Ban")
    async def ban(ctx: Any, user: User, reason: str = "") -> None: ...

    @tree.user_command(name="Profile")
    async def profile(ctx: Any, user: Any) -> None: ...

    @tree.command(description="Guild only", guild_ids=[GUILD])
    async def local(ctx: Any) -> None: ...

    return tree


def puts(fake: Any) -> list[Any]:
    return [r for r in fake.requests if r.method == "PUT"]


def discordify(stored: list[dict[str, Any]]) -> None:
    """Make stored commands look like Discord's GET answer: defaults filled in, floats, nulls."""
    for cmd in stored:
        cmd.setdefault("nsfw", False)
        cmd.setdefault("dm_permission", True)
        cmd.setdefault("default_member_permissions", None)
        cmd.setdefault("name_localizations", None)
        cmd.setdefault("description_localizations", None)
        cmd.setdefault("contexts", None)
        cmd.setdefault("integration_types", [0])
        for option in cmd.get("options", []):
            option.setdefault("required", False)
            option.setdefault("name_localizations", {})
            if "max_value" in option:
                option["max_value"] = float(option["max_value"])
            if "min_value" in option:
                option["min_value"] = float(option["min_value"])


async def test_first_sync_creates_then_nothing_is_written() -> None:
    payload = declared().payload()
    async with fake_discord() as (fake, rest):
        report = await sync_commands(rest, APP_ID, payload)
        assert [r.route_path for r in puts(fake)] == [
            f"/applications/{APP_ID}/commands",
            f"/applications/{APP_ID}/guilds/{GUILD}/commands",
        ]
        assert report.scope(None).created == ["/admin", "/echo", "Profile (user)"]
        assert report.scope(GUILD).created == ["/local"]
        assert report.writes == 2
        assert "global: 3 created (/admin, /echo, Profile (user))" in str(report)

        discordify(fake.commands[(APP_ID, None)])
        discordify(fake.commands[(APP_ID, GUILD)])
        fake.requests.clear()
        again = await sync_commands(rest, APP_ID, payload)
        assert puts(fake) == []
        assert not again.changed
        assert again.scope(None).unchanged == ["/admin", "/echo", "Profile (user)"]
        assert "up to date" in str(again)
        gets = [r for r in fake.requests if r.method == "GET"]
        assert len(gets) == 2
        assert all(r.query.get("with_localizations") == "true" for r in gets)


async def test_one_change_gives_exactly_one_put_in_that_scope() -> None:
    tree = declared()
    async with fake_discord() as (fake, rest):
        await sync_commands(rest, APP_ID, tree.payload())
        fake.requests.clear()
        changed = tree.payload()
        changed[None][0]["description"] = "Say it again"
        report = await sync_commands(rest, APP_ID, changed)
        assert [r.route_path for r in puts(fake)] == [f"/applications/{APP_ID}/commands"]
        assert report.scope(None).updated == ["/echo"]
        assert report.scope(GUILD).unchanged == ["/local"]
        stored = {c["name"]: c for c in fake.commands[(APP_ID, None)]}
        assert stored["echo"]["description"] == "Say it again"


async def test_dry_run_writes_nothing_and_shows_a_diff() -> None:
    tree = declared()
    async with fake_discord() as (fake, rest):
        await sync_commands(rest, APP_ID, tree.payload())
        fake.commands[(APP_ID, None)].append(
            {
                "id": "77",
                "type": 1,
                "name": "stale",
                "description": "old",
                "application_id": "1",
            }
        )
        fake.requests.clear()
        changed = tree.payload()
        changed[None][0]["options"][0]["max_length"] = 100
        report = await sync_commands(rest, APP_ID, changed, dry_run=True)
        assert puts(fake) == []
        assert report.scope(None).updated == ["/echo"]
        assert report.scope(None).deleted == ["/stale"]
        assert "would overwrite (dry run)" in str(report)
        diff = report.diff()
        assert '-      "max_length": 200' in diff
        assert '+      "max_length": 100' in diff
        assert "--- discord global /stale" in diff


async def test_guild_option_syncs_only_that_guild() -> None:
    async with fake_discord() as (fake, rest):
        report = await sync_commands(rest, APP_ID, declared().payload(), guild_id=GUILD)
        assert [r.route_path for r in puts(fake)] == [
            f"/applications/{APP_ID}/guilds/{GUILD}/commands"
        ]
        assert [s.guild_id for s in report.scopes] == [GUILD]


async def test_entry_point_command_is_kept() -> None:
    async with serve_fake_discord() as fake:
        fake.commands[(APP_ID, None)] = [
            {"id": "9", "type": 4, "name": "launch", "description": "", "handler": 2}
        ]
        async with RestClient("token", base_url=fake.base_url) as rest:
            report = await sync_commands(rest, APP_ID, declared().payload())
            assert report.scope(None).deleted == []
            (put, _) = puts(fake)
            assert any(c.get("type") == 4 and c["id"] == "9" for c in put.json)


def test_option_order_matters_but_command_order_does_not() -> None:
    payload = declared().payload()[None]
    reordered_commands = list(reversed(copy.deepcopy(payload)))
    report, _ = compare_scope(None, payload, reordered_commands)
    assert not report.changed
    swapped = copy.deepcopy(payload)
    echo = next(c for c in swapped if c["name"] == "echo")
    echo["options"][1], echo["options"][2] = echo["options"][2], echo["options"][1]
    report, _ = compare_scope(None, payload, swapped)
    assert report.updated == ["/echo"]


@pytest.mark.parametrize(
    ("remote_extra", "equal"),
    [
        ({"nsfw": False, "dm_permission": True, "version": "5", "guild_id": None}, True),
        ({"contexts": [2, 0, 1]}, True),
        ({"contexts": [0]}, False),
        ({"name_localizations": {}, "description_localizations": None}, True),
        ({"default_member_permissions": "0"}, False),
        ({"nsfw": True}, False),
    ],
)
def test_normalisation(remote_extra: dict[str, Any], equal: bool) -> None:
    local = {"type": 1, "name": "x", "description": "d"}
    remote = {"id": "1", "application_id": "2", "name": "x", "description": "d", **remote_extra}
    same = normalize_command(local, guild=False) == normalize_command(remote, guild=False)
    assert same is equal


def test_integration_types_left_to_discord_when_not_declared() -> None:
    local = {"type": 1, "name": "x", "description": "d"}
    remote = {"type": 1, "name": "x", "description": "d", "integration_types": [0, 1]}
    report, _ = compare_scope(None, [local], [remote])
    assert not report.changed
    report, _ = compare_scope(None, [{**local, "integration_types": [0]}], [remote])
    assert report.updated == ["/x"]
