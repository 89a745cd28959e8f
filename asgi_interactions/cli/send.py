"""``asgi-interactions send URL KIND ...``: sign an interaction, POST it, print the answer.

Option values are strings unless typed: ``count:=2`` (or ``--json``) sends JSON values, and
``--app module:bot`` types every value from the command's own declaration.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx2

from .common import EXIT_ERROR_ANSWER, CLIError, check_url, load_app

EXAMPLE_URL = "http://127.0.0.1:8000/interactions"
_RESOLVED_TYPES = {6: "user", 7: "channel", 8: "role", 9: "user", 11: "attachment"}
_TYPE_NAMES = {3: "a string", 4: "an integer", 5: "a boolean", 10: "a number"}
_BOOLEANS = {"true": True, "yes": True, "on": True, "1": True}
_BOOLEANS |= {"false": False, "no": False, "off": False, "0": False}


def _common() -> argparse.ArgumentParser:
    """Options accepted before or after the kind (defaults live in ``run``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--seed",
        default=argparse.SUPPRESS,
        metavar="HEX",
        help="64 hex digits: sign with KeyPair.from_seed(HEX) (default: the development keys)",
    )
    common.add_argument(
        "--app",
        default=argparse.SUPPRESS,
        metavar="MODULE:BOT",
        help="type option values from the app's own command declarations",
    )
    common.add_argument(
        "--app-dir", default=argparse.SUPPRESS, metavar="DIR", help="where to import --app from"
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="every option value is JSON (like name:=value)",
    )
    common.add_argument(
        "--timeout", type=float, default=argparse.SUPPRESS, metavar="S", help="default 10 s"
    )
    return common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The URL, the kinds of interaction and their arguments (shared with ``testing``)."""
    common = _common()
    for action in common._actions:
        parser._add_action(action)
    parser.add_argument("url", metavar="URL", help=f"the endpoint, e.g. {EXAMPLE_URL}")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    kinds.add_parser("ping", parents=[common], help="a PING, as Discord sends when you save a URL")
    cmd = kinds.add_parser("command", parents=[common], help="a slash command")
    cmd.add_argument("name", metavar="NAME", help='the command, or "group sub" for a subcommand')
    cmd.add_argument("options", nargs="*", metavar="OPT=VALUE", help="name=text or name:=JSON")
    button = kinds.add_parser("button", parents=[common], help="press a button")
    button.add_argument("custom_id", metavar="CUSTOM_ID")
    select = kinds.add_parser("select", parents=[common], help="choose values in a select menu")
    select.add_argument("custom_id", metavar="CUSTOM_ID")
    select.add_argument("values", nargs="*", metavar="VALUE")
    modal = kinds.add_parser("modal", parents=[common], help="submit a modal")
    modal.add_argument("custom_id", metavar="CUSTOM_ID")
    modal.add_argument("fields", nargs="*", metavar="FIELD=VALUE", help="text input values")
    auto = kinds.add_parser("autocomplete", parents=[common], help="type into an option")
    auto.add_argument("name", metavar="NAME", help='the command, or "group sub"')
    auto.add_argument("option", metavar="OPTION", help="the option being typed into")
    auto.add_argument("text", metavar="TEXT", help="what has been typed so far")
    auto.add_argument("options", nargs="*", metavar="OPT=VALUE", help="other options' values")
    event = kinds.add_parser(
        "event",
        parents=[common],
        help="a webhook event, for the Webhook Events URL (bot.webhook_events)",
    )
    event.add_argument(
        "event_type",
        metavar="TYPE",
        help="ping, or an event type such as ENTITLEMENT_CREATE (documented types get sample data)",
    )
    event.add_argument(
        "--data", metavar="JSON", default=None, help="the event's data object instead of a sample"
    )


def add_parser(commands: Any) -> None:
    send = commands.add_parser(
        "send",
        help="sign an interaction, POST it to your endpoint and print the answer",
        description=(
            "Sign an interaction with the development keys (or --seed) and POST it. Exit 0: a "
            "2xx answer; 1: the bot answered with an error (HTTP >= 400 or its failure notice); "
            "2: it could not be sent as asked (one line says why)."
        ),
    )
    add_arguments(send)


# -- option values ------------------------------------------------------------------------------


def _pairs(raw: Sequence[str], what: str) -> list[tuple[str, str, bool]]:
    """``name=text`` / ``name:=json`` words as (name, value, is_json)."""
    out = []
    for word in raw:
        name, sep, value = word.partition("=")
        is_json = name.endswith(":")
        name = name.removesuffix(":")
        if not sep or not name:
            raise CLIError(
                f"{what} {word!r} needs a value: write {word or 'name'}=text "
                f"(or {word or 'name'}:=2 for a JSON value)"
            )
        out.append((name, value, is_json))
    return out


def _json_value(name: str, value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        raise CLIError(
            f"the value of {name!r} is not JSON: {value!r} (write a string as {name}=text)"
        ) from None


def _declared_options(app: Any, path: Sequence[str]) -> dict[str, int]:
    """Option name -> type, from the app's declaration of the slash command at ``path``."""
    payload = app.commands_payload() if hasattr(app, "commands_payload") else app.payload()
    found = None
    names: set[str] = set()
    for commands in payload.values():
        for command in commands:
            if command.get("type", 1) == 1:
                names.add(command["name"])
                if command["name"] == path[0]:
                    found = command
    if found is None:
        raise CLIError(f"the app has no slash command {path[0]!r} (it has: {sorted(names)})")
    for part in path[1:]:
        subs = [o for o in found.get("options", []) if o["type"] in (1, 2)]
        match = next((o for o in subs if o["name"] == part), None)
        if match is None:
            choices = sorted(o["name"] for o in subs)
            raise CLIError(f"/{' '.join(path)}: no subcommand {part!r} (there are: {choices})")
        found = match
    return {o["name"]: o["type"] for o in found.get("options", []) if o["type"] not in (1, 2)}


def _typed(name: str, value: str, kind: int) -> Any:
    """``value`` (command-line text) as the declared option type ``kind`` wants it."""
    from .. import testing

    try:
        if kind == 4:
            return int(value)
        if kind == 10:
            return float(value)
    except ValueError:
        raise CLIError(f"option {name!r} takes {_TYPE_NAMES[kind]}: {value!r} is not one") from None
    if kind == 5:
        if value.lower() not in _BOOLEANS:
            raise CLIError(f"option {name!r} is a boolean: write true or false, not {value!r}")
        return _BOOLEANS[value.lower()]
    if kind in _RESOLVED_TYPES:
        if not value.isdigit():
            raise CLIError(f"option {name!r} takes an id (digits), not {value!r}")
        return getattr(testing, _RESOLVED_TYPES[kind])(value)
    return value


def option_values(
    raw: Sequence[str], *, declared: Mapping[str, int] | None, all_json: bool, command: str
) -> dict[str, Any]:
    """The option values to send, typed from ``declared`` when known, else strings or JSON."""
    values: dict[str, Any] = {}
    for name, value, is_json in _pairs(raw, "option"):
        if declared is not None and name not in declared:
            raise CLIError(f"/{command} has no option {name!r} (it has: {sorted(declared)})")
        if is_json or all_json:
            values[name] = _json_value(name, value)
            if declared is not None and declared[name] in _RESOLVED_TYPES:
                values[name] = _typed(name, str(values[name]), declared[name])
            elif declared is not None and declared[name] == 10:
                values[name] = float(values[name])
        elif declared is not None:
            values[name] = _typed(name, value, declared[name])
        else:
            values[name] = value
    return values


# -- sending ------------------------------------------------------------------------------------


def _keys(seed: str | None) -> Any:
    from ..testing import DEVELOPMENT_KEYS, KeyPair

    if seed is None:
        return DEVELOPMENT_KEYS
    try:
        raw = bytes.fromhex(seed)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise CLIError(f"--seed must be 64 hex digits (a 32-byte seed), got {seed!r}")
    return KeyPair.from_seed(seed)


def build_payload(args: argparse.Namespace) -> dict[str, Any]:
    """The interaction that ``args`` asks for (raises CLIError on a mistake)."""
    from .. import testing

    if args.kind == "ping":
        return testing.interaction_payload(1)
    if args.kind == "event":
        return _event_payload(args.event_type, args.data)
    if args.kind == "button":
        return testing.component_payload(args.custom_id)
    if args.kind == "select":
        return testing.component_payload(args.custom_id, component_type=3, values=args.values)
    if args.kind == "modal":
        fields = {name: value for name, value, _ in _pairs(args.fields, "field")}
        return testing.modal_payload(args.custom_id, fields)
    path = args.name.split()
    if not path:
        raise CLIError("NAME is empty: give the command's name")
    app_spec = getattr(args, "app", None)
    declared = None
    if app_spec:
        declared = _declared_options(load_app(app_spec, getattr(args, "app_dir", ".")), path)
    all_json = getattr(args, "json", False)
    name = " ".join(path)
    values = option_values(args.options, declared=declared, all_json=all_json, command=name)
    subcommand = path[1:] or None
    if args.kind == "command":
        return testing.command_payload(path[0], values, subcommand=subcommand)
    if declared is not None and args.option not in declared:
        raise CLIError(f"/{name} has no option {args.option!r} (it has: {sorted(declared)})")
    return testing.autocomplete_payload(
        path[0], args.option, args.text, values, subcommand=subcommand
    )


def _event_payload(event_type: str, raw_data: str | None) -> dict[str, Any]:
    """A webhook PING, or an event of ``event_type`` with ``raw_data`` (JSON) or sample data."""
    from ..models.webhook_events import WebhookEventType
    from ..testing import webhook_event_payload, webhook_ping_payload

    if event_type.lower() == "ping":
        if raw_data is not None:
            raise CLIError("a PING carries no data: leave out --data")
        return webhook_ping_payload()
    known = {t.value for t in WebhookEventType}
    if event_type not in known and event_type.upper() in known:
        event_type = event_type.upper()
    data = None
    if raw_data is not None:
        data = _json_value("--data", raw_data)
        if not isinstance(data, dict):
            raise CLIError(f"--data must be a JSON object, got {raw_data!r}")
    return webhook_event_payload(event_type, data)


async def _post(url: str, keys: Any, payload: dict[str, Any], seconds: float) -> httpx2.Response:
    body = json.dumps(payload).encode()
    try:
        async with httpx2.AsyncClient(timeout=seconds) as client:
            return await client.post(url, content=body, headers=keys.headers(body))
    except httpx2.ConnectError as exc:
        raise CLIError(f"cannot connect to {url}: is the server running? ({exc})") from None
    except httpx2.TimeoutException:
        raise CLIError(f"no answer from {url} within {seconds:g} s") from None
    except httpx2.HTTPError as exc:
        raise CLIError(f"sending to {url} failed: {type(exc).__name__}: {exc}") from None


def _event_verdict(response: httpx2.Response) -> tuple[int, str | None]:
    """Webhook events are acknowledged with 204 and nothing else."""
    status = response.status_code
    if status == 204:
        return 0, None
    if status == 200 and response.content:
        return EXIT_ERROR_ANSWER, (
            "HTTP 200 with a body: that is an interactions endpoint; webhook events go to the "
            "app mounted from bot.webhook_events (e.g. /discord/events)"
        )
    return _verdict(response) if status >= 300 else (EXIT_ERROR_ANSWER, f"HTTP {status}, not 204")


def _verdict(response: httpx2.Response) -> tuple[int, str | None]:
    """Exit code, and a line for stderr when the answer is not a success."""
    from ..commands.tree import INVALID_VALUE_PREFIX
    from ..runner import BUSY_TEXT, FAILED_TEXT, NOT_HANDLED_TEXT
    from ..testing import DEVELOPMENT_KEYS

    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("location", "?")
        raise CLIError(
            f"HTTP {status} redirect to {location}: Discord follows no redirect. POST the exact "
            "URL, or give the app the bot's lifespan (FastAPI(lifespan=bot.lifespan)) so the "
            "mount answers without the trailing slash"
        )
    if status == 401:
        return EXIT_ERROR_ANSWER, (
            "the server refused the signature: start it with DISCORD_PUBLIC_KEY="
            f"{DEVELOPMENT_KEYS.public_key} (the development key) or pass the matching --seed"
        )
    if status >= 400:
        return EXIT_ERROR_ANSWER, f"the endpoint answered HTTP {status}"
    try:
        content = response.json().get("data", {}).get("content")
    except (ValueError, AttributeError):
        content = None
    if content == FAILED_TEXT:
        return (
            EXIT_ERROR_ANSWER,
            "the handler failed: the bot sent its failure notice (see its log)",
        )
    if content == NOT_HANDLED_TEXT:
        return EXIT_ERROR_ANSWER, "no handler matched: the bot sent its 'not handled' notice"
    if isinstance(content, str) and content.startswith(INVALID_VALUE_PREFIX):
        return EXIT_ERROR_ANSWER, (
            "the bot refused an option value: values are text unless typed "
            "(name:=2 for JSON, or --app module:bot to type them from the declarations)"
        )
    if content == BUSY_TEXT:
        return EXIT_ERROR_ANSWER, "the bot is at max_concurrency: it sent its 'busy' notice"
    return 0, None


async def run(args: argparse.Namespace) -> int:
    url = check_url(args.url, "URL", EXAMPLE_URL)
    keys = _keys(getattr(args, "seed", None))
    payload = build_payload(args)
    response = await _post(url, keys, payload, getattr(args, "timeout", 10.0))
    code, problem = (_event_verdict if args.kind == "event" else _verdict)(response)
    text = response.content.decode(errors="replace")
    print(f"HTTP {response.status_code}: {text}" if text else f"HTTP {response.status_code}")
    if problem is not None:
        raise CLIError(problem, code)
    return code
