"""Command sync: compare the declared commands with Discord's and overwrite only scopes that differ.

`sync_commands` does one GET per scope, compares normalised commands by (type, name) and issues at
most one bulk-overwrite PUT per scope. `sync_at_startup` wraps it in a run-once lock so that, of all
the workers (and hosts) of a deployment, one syncs and the others skip.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .locks import run_once
from .normalize import command_key, normalize_command

__all__ = [
    "ScopeReport",
    "SyncReport",
    "lock_key",
    "sync_at_startup",
    "sync_commands",
]

log = logging.getLogger("asgi_interactions.commands.sync")

Payload = Mapping[int | None, Sequence[Mapping[str, Any]]]
DEFAULT_TTL = 3600.0
_TYPE_LABELS = {2: "user", 3: "message", 4: "entry point"}


def _label(key: tuple[int, str]) -> str:
    ctype, name = key
    return f"/{name}" if ctype == 1 else f"{name} ({_TYPE_LABELS.get(ctype, f'type {ctype}')})"


def _dump(command: Mapping[str, Any] | None) -> list[str]:
    if command is None:
        return []
    return json.dumps(command, indent=2, sort_keys=True, ensure_ascii=False).splitlines(True)


@dataclass
class ScopeReport:
    """What sync found (and did) for one scope: global (``guild_id=None``) or one guild."""

    guild_id: int | None
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    written: bool = False
    diff: str = ""

    @property
    def scope(self) -> str:
        """``"global"`` or ``"guild <id>"``."""
        return "global" if self.guild_id is None else f"guild {self.guild_id}"

    @property
    def changed(self) -> bool:
        """Whether Discord's commands differ from the declared ones in this scope."""
        return bool(self.created or self.updated or self.deleted)

    def __str__(self) -> str:
        def part(label: str, names: list[str]) -> str:
            return f"{len(names)} {label}" + (f" ({', '.join(names)})" if names else "")

        counts = ", ".join(
            [
                part("created", self.created),
                part("updated", self.updated),
                part("deleted", self.deleted),
                f"{len(self.unchanged)} unchanged",
            ]
        )
        if self.written:
            action = "overwritten"
        elif self.changed:
            action = "would overwrite (dry run)"
        else:
            action = "up to date"
        return f"{self.scope}: {counts} - {action}"


@dataclass
class SyncReport:
    """The outcome of a sync over one or more scopes; ``str()`` gives one line per scope."""

    scopes: list[ScopeReport]
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        """Whether any scope differed."""
        return any(s.changed for s in self.scopes)

    @property
    def writes(self) -> int:
        """How many bulk overwrites were sent."""
        return sum(1 for s in self.scopes if s.written)

    def scope(self, guild_id: int | None) -> ScopeReport | None:
        """The report for one scope (None = global)."""
        return next((s for s in self.scopes if s.guild_id == guild_id), None)

    def diff(self) -> str:
        """A unified diff (Discord's commands -> declared ones) of every scope that differs."""
        return "".join(s.diff for s in self.scopes if s.diff)

    def __str__(self) -> str:
        return "\n".join(str(s) for s in self.scopes) or "no scopes"


async def _fetch(rest: Any, application_id: int, guild_id: int | None) -> list[Any]:
    if guild_id is None:
        found = await rest.get_global_commands(application_id, with_localizations=True)
    else:
        found = await rest.get_guild_commands(application_id, guild_id, with_localizations=True)
    if not isinstance(found, list):
        raise TypeError(f"Discord returned {type(found).__name__} for the command list")
    return found


def compare_scope(
    guild_id: int | None, local: Sequence[Mapping[str, Any]], remote: Sequence[Mapping[str, Any]]
) -> tuple[ScopeReport, list[dict[str, Any]]]:
    """Compare one scope: the report, and the list to PUT (declared + kept entry points)."""
    guild = guild_id is not None
    report = ScopeReport(guild_id)
    body = [dict(c) for c in local]
    local_keys = {command_key(c): c for c in local}
    remote_keys: dict[tuple[int, str], Mapping[str, Any]] = {}
    for command in remote:
        key = command_key(command)
        if key[0] == 4 and not any(k[0] == 4 for k in local_keys):
            # Discord creates the Activity "Launch" entry point itself; never delete it by omission.
            kept = {k: v for k, v in command.items() if k not in ("application_id", "version")}
            body.append(kept)
            continue
        remote_keys[key] = command
    scope = "global" if guild_id is None else f"guild {guild_id}"
    diffs: list[str] = []
    for key in sorted(set(local_keys) | set(remote_keys), key=lambda k: (k[0], k[1])):
        ours = local_keys.get(key)
        theirs = remote_keys.get(key)
        keep_it = ours is None or "integration_types" in ours
        mine = normalize_command(ours, guild=guild) if ours is not None else None
        found = (
            normalize_command(theirs, guild=guild, keep_integration_types=keep_it)
            if theirs is not None
            else None
        )
        label = _label(key)
        if found is None:
            report.created.append(label)
        elif mine is None:
            report.deleted.append(label)
        elif mine != found:
            report.updated.append(label)
        else:
            report.unchanged.append(label)
            continue
        diffs.extend(
            difflib.unified_diff(
                _dump(found),
                _dump(mine),
                fromfile=f"discord {scope} {label}",
                tofile=f"declared {scope} {label}",
            )
        )
    report.diff = "".join(line if line.endswith("\n") else line + "\n" for line in diffs)
    return report, body


async def sync_commands(
    rest: Any,
    application_id: int,
    payload: Payload,
    *,
    guild_id: int | None = None,
    dry_run: bool = False,
) -> SyncReport:
    """Make Discord's commands match `payload` (scope -> command list), writing only what differs.

    With `guild_id`, only that guild's scope is synced. Every other call covers the global scope and
    each guild in `payload`. With `dry_run`, nothing is written; the report carries the diff.
    """
    if guild_id is not None:
        scopes: list[int | None] = [int(guild_id)]
    else:
        scopes = [None, *sorted(g for g in payload if g is not None)]
    reports: list[ScopeReport] = []
    for scope in scopes:
        local = list(payload.get(scope, ()))
        remote = await _fetch(rest, application_id, scope)
        report, body = compare_scope(scope, local, remote)
        if report.changed and not dry_run:
            if scope is None:
                await rest.bulk_overwrite_global_commands(application_id, body)
            else:
                await rest.bulk_overwrite_guild_commands(application_id, scope, body)
            report.written = True
        log.info("command sync %s", report)
        reports.append(report)
    return SyncReport(reports, dry_run=dry_run)


def payload_hash(application_id: int, payload: Payload) -> str:
    """A stable hash of the application id and the declared commands."""
    canonical = json.dumps(
        {"app": str(application_id), "scopes": {str(k): v for k, v in payload.items()}},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def lock_key(application_id: int, payload: Payload) -> str:
    """The lock name shared by every worker of one deployment (same app, same commands)."""
    return f"asgi-interactions-sync-{application_id}-{payload_hash(application_id, payload)}"


async def sync_at_startup(
    rest: Any,
    application_id: int,
    payload: Payload,
    *,
    redis_url: str | None = None,
    ttl: float = DEFAULT_TTL,
    lock_dir: str | Path | None = None,
) -> SyncReport | None:
    """Sync once per deployment: the worker that wins the lock syncs, the others return None.

    Without `redis_url` the lock is a file in the temp dir (workers of one host); with it, a Redis
    key (workers of all hosts). A finished sync is remembered for `ttl` seconds per set of commands;
    a failed one frees the lock and raises.
    """
    key = lock_key(application_id, payload)

    async def work() -> SyncReport:
        return await sync_commands(rest, application_id, payload)

    report = await run_once(key, work, redis_url=redis_url, ttl=ttl, lock_dir=lock_dir)
    if report is None:
        log.info("command sync skipped: another worker has done it or is doing it (%s)", key)
    return report
