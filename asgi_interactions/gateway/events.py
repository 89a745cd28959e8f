"""GatewayEvent and the delivery of dispatches to listeners on the app's event loop.

Listeners are started in sequence order by one consumer task. Each runs inline until it first
waits, so one that finishes without waiting costs no task of its own; one that waits keeps the
consumer's task as its own (so ``asyncio.current_task()``, ``asyncio.timeout`` and cancellation
stay the listener's) and a fresh consumer carries on with the rest at once. A slow or failing
listener therefore never delays reading, heartbeats or other listeners. Each listener runs in
its own copy of the context, as it would in a task of its own. For shared shards the dispatcher
also notes, per shard, how far delivery has got (``delivery.py`` records it for a takeover).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any

from .._sync import to_async

__all__ = ["Dispatcher", "GatewayEvent", "Listener", "new_event"]

log = logging.getLogger("asgi_interactions.gateway")


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """One dispatch (op 0): its name (``t``), the shard it came on, its sequence and payload."""

    name: str
    shard_id: int
    seq: int | None
    data: Any


#: Dispatches whose calls ``Dispatcher._calls`` works out (the rest take the hot path).
_OWN_CALLS = frozenset({"INTERACTION_CREATE", "READY"})

_new = object.__new__
_slots = GatewayEvent.__dict__  # the slots' member descriptors
_set_name, _set_shard = _slots["name"].__set__, _slots["shard_id"].__set__
_set_seq, _set_data = _slots["seq"].__set__, _slots["data"].__set__


def event_setters() -> tuple[Any, Any, Any, Any, Any]:
    """``object.__new__`` and the slots' setters (name, shard_id, seq, data) of
    ``GatewayEvent``, for a caller that builds events inline (``new_event``'s body)."""
    return _new, _set_name, _set_shard, _set_seq, _set_data


def new_event(name: str, shard_id: int, seq: int | None, data: Any) -> GatewayEvent:
    """``GatewayEvent(name, shard_id, seq, data)`` at under half the cost (the shard's hot path):
    the slots are set directly, not through the frozen class's ``__init__``."""
    event: GatewayEvent = _new(GatewayEvent)
    _set_name(event, name)
    _set_shard(event, shard_id)
    _set_seq(event, seq)
    _set_data(event, data)
    return event


Listener = Callable[[GatewayEvent], Awaitable[None] | None]
AsyncListener = Callable[[GatewayEvent], Awaitable[Any]]
_NO_CARRY: tuple[GatewayEvent, list[AsyncListener]] = (GatewayEvent("", 0, None, None), [])


class Dispatcher:
    """Runs on the app's loop: starts every matching listener for each queued event, in order."""

    def __init__(self, backlog_limit: int = 1000) -> None:
        self.listeners: dict[str, list[AsyncListener]] = {}
        self.interaction_handler: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        self.backlog_limit = backlog_limit
        #: Events waiting for the consumer; the I/O thread appends (deque appends are atomic).
        self.pending: deque[GatewayEvent] = deque()
        #: Listeners that waited, each running in its own task.
        self.tasks: set[asyncio.Task[Any]] = set()
        self._consumer: asyncio.Task[None] | None = None
        #: The idle consumer waits on this for ``wake`` (None while it runs): one task takes
        #: batch after batch, so a batch costs no task of its own.
        self._waiter: asyncio.Future[None] | None = None
        #: True from a hand-over's wake-up until the consumer runs out of events: the I/O thread
        #: then wakes the app's loop only when the consumer is idle (see ``hand_over``).
        self.awake = False
        self._carry = _NO_CARRY  # the event whose listener waited, and its listeners after it
        self._over = False
        self._routes: dict[str, list[AsyncListener]] = {}
        self._current: GatewayEvent | None = None  # the event of ``_carry``
        #: Shared shards only (``delivery.py``), else None: shard -> the last sequence whose
        #: listeners have all started, those that did not wait having returned.
        self.delivered: dict[int, int | None] | None = None
        #: With ``delivered``: shard -> its session (from READY); (shard, seq) -> listeners
        #: still running; called when the queue runs empty.
        self.sessions: dict[int, str] = {}
        self.running: dict[tuple[int, int | None], int] = {}
        self.on_idle: Callable[[], None] | None = None

    def add(self, name: str, listener: Listener) -> None:
        """Register ``listener`` for dispatches named ``name`` (``"*"``: every dispatch)."""
        self.listeners.setdefault(name, []).append(to_async(listener))
        self._routes.clear()

    def _route(self, name: str) -> list[AsyncListener]:
        """The listeners of ``name`` then those of ``"*"`` (cached per name)."""
        route = self._routes.get(name)
        if route is None:
            route = self._routes[name] = [
                *self.listeners.get(name, ()),
                *self.listeners.get("*", ()),
            ]
        return route

    def dispatch(self, event: GatewayEvent) -> None:
        """Queue ``event`` and make sure a consumer runs (on the app's loop)."""
        self.pending.append(event)
        self.wake()

    def hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the I/O thread, after it queued events: wake the app's ``loop`` once for all of
        them, unless the consumer is awake already (it takes whatever is queued before it
        sleeps: it clears ``awake``, then looks at the queue once more)."""
        if self.pending and not self.awake:
            self.awake = True
            with contextlib.suppress(RuntimeError):  # the app's loop is closed: nobody to tell
                loop.call_soon_threadsafe(self.wake)

    def wake(self) -> None:
        """Have a consumer take the queued events (on the app's loop): the idle one, else a
        new one unless one is running."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
                return
            self._consumer = None  # the sleeping consumer was cancelled: a new one takes over
        if self._consumer is None or self._consumer.done():
            self._consumer = asyncio.get_running_loop().create_task(self._consume())

    @property
    def idle(self) -> bool:
        """No event queued, no listener running, and the consumer (if any) asleep."""
        consumer_idle = self._consumer is None or self._consumer.done() or self._waiter is not None
        return not self.pending and not self.tasks and consumer_idle

    def _calls(self, event: GatewayEvent) -> list[AsyncListener]:
        """What to start for INTERACTION_CREATE (the app's handlers first, then listeners) and
        READY (a new session: its sequences are recorded under the new session id)."""
        if event.name == "READY" and self.delivered is not None and isinstance(event.data, dict):
            self.delivered[event.shard_id] = None  # first, so no reader pairs old and new
            self.sessions[event.shard_id] = str(event.data.get("session_id"))
        listeners = self._route(event.name)
        if (
            event.name == "INTERACTION_CREATE"
            and self.interaction_handler is not None
            and isinstance(event.data, dict)
        ):
            return [self._interaction, *listeners]
        return listeners

    async def _consume(self) -> None:
        """Start the listeners of the queued events, in order, each inline until it waits."""
        event, listeners = self._carry
        self._carry = _NO_CARRY
        current, self._current = self._current, None
        pending, routes, route, delivered = self.pending, self._routes, self._route, self.delivered
        copy_context = contextvars.copy_context
        while True:
            for i, listener in enumerate(listeners):
                context = copy_context()
                try:
                    coro: Any = listener(event)
                    waiting = context.run(coro.send, None)
                except (StopIteration, asyncio.CancelledError):
                    continue
                except Exception:
                    _log_failure(listener, event)
                    continue
                # The listener waits: this task becomes its task, a new consumer goes on.
                self._carry, self._current = (event, listeners[i + 1 :]), current
                self._consumer = asyncio.get_running_loop().create_task(self._consume())
                await self._finish(listener, event, _Rest(coro, waiting, context))
                return
            if delivered is not None and current is not None:
                delivered[current.shard_id] = current.seq
            if not pending:
                self.awake = False  # first: an event queued from now on wakes us again
                if not pending:
                    if self.on_idle is not None:
                        self.on_idle()
                    if self._consumer is not asyncio.current_task():
                        break  # a consumer that lost its place (drain) ends here
                    waiter = self._waiter = asyncio.get_running_loop().create_future()
                    try:
                        await waiter
                    except asyncio.CancelledError:  # drain, or whoever cancels every task
                        if self._waiter is waiter:
                            self._waiter = None
                        if self._consumer is asyncio.current_task():
                            self._consumer = None
                        raise
                    current = None
                    listeners = []
                    continue
                self.awake = True
            current = event = pending.popleft()
            name = event.name
            if name in _OWN_CALLS:
                listeners = self._calls(event)
            else:  # the hot path: the cached route
                listeners = routes.get(name) or route(name)
        if self._consumer is asyncio.current_task():
            self._consumer = None

    async def _finish(self, listener: AsyncListener, event: GatewayEvent, rest: _Rest) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self._check_backlog(event)
        running = self.running if self.delivered is not None else None
        key = (event.shard_id, event.seq)
        if running is not None:  # not delivered until it returns
            running[key] = running.get(key, 0) + 1
        try:
            await rest
        except asyncio.CancelledError:
            if task.cancelling():  # cancelled from outside (shutdown)
                raise
        except Exception:
            _log_failure(listener, event)
        finally:
            self.tasks.discard(task)
            if running is not None:
                if running[key] > 1:
                    running[key] -= 1
                else:
                    del running[key]

    def _check_backlog(self, event: GatewayEvent) -> None:
        if len(self.tasks) > self.backlog_limit and not self._over:
            self._over = True
            log.warning(
                "gateway listener backlog over %d tasks (at %s on shard %d): listeners are "
                "slower than the events arrive",
                self.backlog_limit,
                event.name,
                event.shard_id,
            )
        elif self._over and len(self.tasks) < self.backlog_limit // 2:
            self._over = False
            log.info("gateway listener backlog back to %d tasks", len(self.tasks))

    async def _interaction(self, event: GatewayEvent) -> None:
        assert self.interaction_handler is not None
        try:
            await self.interaction_handler(event.data)
        except Exception:
            log.exception("INTERACTION_CREATE on shard %d failed", event.shard_id)

    async def drain(self, limit: float) -> None:
        """Wait up to ``limit`` seconds for running listeners, then cancel what is left."""
        running = set(self.tasks)
        consumer = self._consumer
        if consumer is not None and self._waiter is not None:  # idle: nothing left to finish
            self._consumer = self._waiter = None
            consumer.cancel()
            await asyncio.wait({consumer}, timeout=1.0)
        elif consumer is not None:
            running.add(consumer)
        if not running:
            return
        _, pending = await asyncio.wait(running, timeout=limit)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)


class _Rest:
    """Awaitable: drives a listener's coroutine on from its first wait, in its own context.

    The current task awaits this, so the futures the listener waits on are the task's, and a
    cancellation of the task reaches the listener where it waits.
    """

    __slots__ = ("context", "coro", "waiting")

    def __init__(self, coro: Any, waiting: Any, context: contextvars.Context) -> None:
        self.coro: Coroutine[Any, Any, Any] = coro
        self.waiting = waiting
        self.context = context

    def __await__(self) -> Generator[Any, Any, None]:
        coro, run = self.coro, self.context.run
        waiting = self.waiting
        while True:
            try:
                value = yield waiting
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    waiting = run(coro.throw, exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = run(coro.send, value)
                except StopIteration:
                    return


def _log_failure(listener: AsyncListener, event: GatewayEvent) -> None:
    """Log the exception being handled, with the listener, event name, shard and sequence."""
    log.exception(
        "listener %s failed on %s (shard %d, seq %s)",
        partial_name(listener),
        event.name,
        event.shard_id,
        event.seq,
    )


def partial_name(fn: Callable[..., Any]) -> str:
    """A readable name for a listener, also through ``functools.partial``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return getattr(fn, "__qualname__", repr(fn))
