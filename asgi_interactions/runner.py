"""Run one interaction's handler: a tracked task, auto-defer, the error handler, delivery.

The HTTP endpoint and the gateway path both hand interactions here, so a handler behaves the same
whichever way its interaction arrived. The runner knows nothing of ASGI: it produces the initial
response (``InitialResponse``) and the caller writes it where it belongs.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import types
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

from .context import Context, InitialResponse
from .errors import HandlerNotFound
from .models import Interaction, InteractionType
from .responses import callback_payload, deferred_payload
from .responses.message import MAX_CONTENT
from .responses.payloads import PLAIN_MESSAGE_TYPES

if TYPE_CHECKING:
    from .app import InteractionApp  # for types only: the runner uses its rest and application_id

__all__ = ["BUSY_TEXT", "FAILED_TEXT", "NOT_HANDLED_TEXT", "Handler", "Runner", "notice"]

log = logging.getLogger("asgi_interactions.runner")

Handler = Callable[[Context], Awaitable[Any]]
ErrorHandler = Callable[[Context, Exception], Awaitable[Any]]

NOT_HANDLED_TEXT = "This interaction isn't handled by this app."
FAILED_TEXT = "Something went wrong while handling this interaction."
BUSY_TEXT = "This app is busy right now; please try again in a moment."
#: Seconds of a shutdown kept for the failure notices of handlers stopped at its end.
FAILURE_EDIT_RESERVE = 2.0


def notice(text: str, interaction_type: int) -> dict[str, Any]:
    """An ephemeral message for the user; an empty choice list for autocomplete."""
    if interaction_type == InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
        return {"type": 8, "data": {"choices": []}}
    return {"type": 4, "data": {"content": text, "flags": 64}}


class _Notice:
    """A default answer the runner writes itself (never a handler's result)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_NOT_HANDLED = _Notice(NOT_HANDLED_TEXT)
_FAILED = _Notice(FAILED_TEXT)
_OFFERED = _Notice("")  # what Runner._offer returns once the result is the initial response
_TASK_NAME = "interaction"  # until it suspends: then "interaction <id>", for the logs


@types.coroutine
def _yield() -> Generator[None, None, None]:
    """Give the event loop one turn (``asyncio.sleep(0)`` without its frames)."""
    yield


class Runner:
    """Runs handlers as tracked tasks and turns their results into Discord responses."""

    def __init__(
        self,
        host: InteractionApp,
        resolve: Callable[[int], Handler | None],
        *,
        defer_after: float | None,
        max_concurrency: int,
        handler_timeout: float = 900.0,
    ) -> None:
        self._host = host
        self._resolve = resolve
        self.defer_after = defer_after
        self.max_concurrency = max_concurrency
        self.handler_timeout = handler_timeout
        self.error_handler: ErrorHandler | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        # Deadlines are armed only for handlers still running once the initial response is out
        # (a timer per fast interaction would cost more than the rest of its bookkeeping).
        self._deadlines: dict[asyncio.Task[None], asyncio.TimerHandle] = {}
        self._in_handler: set[asyncio.Task[Any]] = set()  # running user code (not delivering)
        self._expired: set[asyncio.Task[Any]] = set()  # stopped by their deadline

    async def process(self, interaction: Interaction) -> InitialResponse:
        """Run the interaction's handler and return its initial response, deferring if slow."""
        initial, _ = await self.begin(interaction)
        return initial

    async def begin(
        self, interaction: Interaction
    ) -> tuple[InitialResponse, asyncio.Task[None] | None]:
        """Start the handler; return the initial response and the task still finishing the work.

        Whichever comes first, the handler's result, ``ctx.defer()`` or the ``defer_after``
        timer, becomes the initial response; a later result edits the original over REST.
        """
        itype = interaction.type
        host = self._host
        if host.application_id is None:
            host.application_id = interaction.application_id  # learned, as DESIGN promises
        handler = self._resolve(itype)
        if handler is None:
            log.warning("no handler for interaction type %s (id %s)", itype, interaction.id)
            return InitialResponse(notice(NOT_HANDLED_TEXT, itype), []), None
        if len(self.tasks) >= self.max_concurrency:
            log.warning(
                "max_concurrency (%d) handlers in flight: answering interaction %s as busy",
                self.max_concurrency,
                interaction.id,
            )
            return InitialResponse(notice(BUSY_TEXT, itype), []), None

        ctx = Context(interaction, host)
        loop = asyncio.get_running_loop()
        started = loop.time()
        box: list[asyncio.Task[None]] = []  # the handler's task, for _run (cheaper than asking)
        if sys.version_info >= (3, 12):
            # Eager: a handler that never suspends finishes here, with no loop round trip;
            # unlike stepping the coroutine by hand, current_task() is the handler's own task.
            name = f"interaction {interaction.id}"
            coro = self._run(ctx, handler, box)
            task = asyncio.Task(coro, loop=loop, name=name, eager_start=True)
            if task.done() and ctx._initial is not None:
                return ctx._initial, task
            self.tasks.add(task)
            task.add_done_callback(self._finished)
            return await self._wait_initial(ctx, task, started, loop)
        # 3.11: the task's first step runs on the next loop turn. Yield once, behind it: most
        # handlers are done by then, and pay for no timer, no done-callback and no per-id name.
        coro = self._run(ctx, handler, box)
        if loop.get_task_factory() is None:  # named at once: no "Task-N" formatted and replaced
            task = asyncio.Task(coro, loop=loop, name=_TASK_NAME)
        else:
            task = loop.create_task(coro)
        box.append(task)  # before its first step: _run reads its own task from here
        self.tasks.add(task)  # counted (max_concurrency, drain) while it may still run
        try:
            await _yield()
        except BaseException:
            ctx._abandon_initial()
            raise
        if task.done():
            self.tasks.discard(task)
            self._expired.discard(task)
            if ctx._initial is not None:
                return ctx._initial, task
        else:
            task.set_name(f"interaction {interaction.id}")
            task.add_done_callback(self._finished)
        return await self._wait_initial(ctx, task, started, loop)

    async def _wait_initial(
        self,
        ctx: Context,
        task: asyncio.Task[None],
        started: float,
        loop: asyncio.AbstractEventLoop,
    ) -> tuple[InitialResponse, asyncio.Task[None]]:
        """Wait for the initial response of a handler that suspended, deferring at defer_after."""
        timer = None
        if ctx._initial is not None:
            pass  # answered already (ctx.defer() or respond()): only the deadline is left
        elif self.defer_after is not None:
            timer = loop.call_at(started + self.defer_after, self._auto_defer, ctx)
        else:
            self._arm_deadline(task, started)  # nothing else bounds the wait below
        try:
            initial = await ctx._initial_future()
        except BaseException:
            ctx._abandon_initial()  # nobody will deliver it now: never leave ctx.defer() waiting
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if not task.done():
                self._arm_deadline(task, started)
        return initial, task

    def _arm_deadline(self, task: asyncio.Task[None], started: float) -> None:
        if task not in self._deadlines and not task.done():  # a done task has no _finished left
            loop = asyncio.get_running_loop()
            when = started + self.handler_timeout
            self._deadlines[task] = loop.call_at(when, self._deadline_passed, task)

    def _deadline_passed(self, task: asyncio.Task[None]) -> None:
        what = "handler" if task in self._in_handler else "delivery of its result"
        log.error(
            "%s: %s still running after handler_timeout (%.1fs), stopped",
            task.get_name(),
            what,
            self.handler_timeout,
        )
        self.expire(task)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self._expired.discard(task)
        timer = self._deadlines.pop(task, None)
        if timer is not None:
            timer.cancel()

    def _auto_defer(self, ctx: Context) -> None:
        itype = ctx.interaction.type
        if itype == InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
            # Autocomplete cannot be deferred; late suggestions are useless, so send none.
            log.warning("autocomplete handler too slow (interaction %s)", ctx.interaction.id)
            ctx._offer_initial(InitialResponse(notice("", itype), []))
            return
        if ctx._offer_initial(InitialResponse(deferred_payload(itype, False), [], deferred=True)):
            log.debug("auto-deferred interaction %s", ctx.interaction.id)

    async def _run(self, ctx: Context, handler: Handler, box: list[asyncio.Task[None]]) -> None:
        task = box[0] if box else asyncio.current_task()  # eager (3.12+): not in the box yet
        assert task is not None  # the runner made it
        in_handler = self._in_handler
        in_handler.add(task)
        try:
            try:
                result = await handler(ctx)
            except HandlerNotFound as exc:
                log.warning("no handler for interaction %s: %s", ctx.interaction.id, exc)
                result = _NOT_HANDLED
            except Exception as exc:
                result = await self._handle_error(ctx, exc)
        except asyncio.CancelledError:
            if task not in self._expired:
                raise
            task.uncancel()  # our own cancellation, now handled: the user is told below
            result = _FAILED
        finally:
            in_handler.discard(task)
        result = self._offer(ctx, result)
        if result is not _OFFERED:  # the initial response is gone: edit or follow up
            await self._deliver(ctx, result)

    async def _handle_error(self, ctx: Context, exc: Exception) -> Any:
        log.error(
            "handler for interaction %s (type %s) raised",
            ctx.interaction.id,
            ctx.interaction.type,
            exc_info=exc,
        )
        if self.error_handler is not None:
            try:
                result = await self.error_handler(ctx, exc)
            except Exception:
                log.exception("the error handler raised (interaction %s)", ctx.interaction.id)
            else:
                if result is not None:
                    return result
        return _FAILED

    def _offer(self, ctx: Context, result: Any) -> Any:
        """Offer the result as the initial response (no await: the common case needs none).

        Returns ``_OFFERED`` if it became the initial response, else what ``_deliver`` must
        send after it (a failure notice in place of None)."""
        if ctx._initial is not None:
            return result
        interaction = ctx.interaction
        if result is None:
            log.warning("handler for interaction %s returned nothing", interaction.id)
            result = _FAILED
        if (
            type(result) is str
            and len(result) <= MAX_CONTENT
            and interaction.type in PLAIN_MESSAGE_TYPES
        ):  # the commonest result: callback_payload's first case, without the call (~2k)
            response = InitialResponse({"type": 4, "data": {"content": result}}, [])
        elif isinstance(result, _Notice):
            response = InitialResponse(notice(result.text, interaction.type), [])
        else:
            try:
                payload, files = callback_payload(
                    result, interaction.type, from_message=interaction.message is not None
                )
            except (TypeError, ValueError) as exc:
                log.error("invalid handler result for interaction %s: %s", interaction.id, exc)
                payload, files = notice(FAILED_TEXT, interaction.type), []
            response = InitialResponse(payload, files)
        return _OFFERED if ctx._offer_initial(response) else result

    async def _deliver(self, ctx: Context, result: Any) -> None:
        """Edit the original or follow up with a result that came after the initial response."""
        interaction = ctx.interaction
        if result is None:
            return
        if interaction.type == InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
            log.debug("late autocomplete result dropped (interaction %s)", interaction.id)
            return  # suggestions have nowhere to go once the (empty) answer is out
        if isinstance(result, _Notice):
            from .responses import Message

            result = Message(content=result.text, ephemeral=True)
        try:
            if ctx.deferred:
                await ctx.edit_original(result)
            else:
                await ctx.followup(result)
        except Exception:
            log.exception(
                "could not deliver the result of interaction %s after its initial response",
                interaction.id,
            )

    async def post_initial(self, interaction: Interaction, initial: InitialResponse) -> bool:
        """Send the initial response to the callback endpoint; False (logged) if that failed."""
        try:
            await self._host.rest.create_interaction_response(
                interaction.id or 0,
                interaction.token or "",
                initial.payload,
                files=initial.files or None,
            )
        except Exception:
            log.exception("callback for interaction %s failed", interaction.id)
            return False
        finally:
            initial.mark_sent()
        return True

    async def process_gateway_interaction(self, data: dict[str, Any]) -> None:
        """Answer an ``INTERACTION_CREATE`` from the gateway through the callback endpoint."""
        interaction = Interaction.model_validate(data)
        await self.post_initial(interaction, await self.process(interaction))

    def run_tracked(self, work: Callable[[], Awaitable[None]], name: str) -> asyncio.Task[None]:
        """Run ``work()`` (a webhook event's handler) as tracked work, with no initial response.

        Like an interaction's handler it counts towards ``max_concurrency``, is stopped at
        ``handler_timeout`` and is waited for (then stopped) by ``drain`` at shutdown; an
        exception is logged with the task's name.
        """
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._tracked(work), name=name)
        self.tasks.add(task)
        task.add_done_callback(self._finished)
        self._in_handler.add(task)  # until it ends: a deadline stops it as a handler
        task.add_done_callback(self._in_handler.discard)
        self._arm_deadline(task, loop.time())
        return task

    async def _tracked(self, work: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.current_task()
        try:
            await work()
        except asyncio.CancelledError:
            if task not in self._expired:
                raise
            assert task is not None
            task.uncancel()  # stopped by its deadline or by shutdown: logged there
        except Exception:
            log.exception("%s raised", task.get_name() if task is not None else "tracked work")

    def expire(self, task: asyncio.Task[None]) -> None:
        """Stop a handler now (a thread is abandoned); its user gets the failure notice.

        A task already past its handler (delivering the result) is cancelled outright.
        """
        if task in self._in_handler:
            if task in self._expired:
                return  # already being stopped
            self._expired.add(task)
        task.cancel()

    async def drain(self, until: float) -> None:
        """Wait for in-flight work until loop time ``until``; stop what is left, telling its users.

        Handlers still running when most of the time is gone reach their deadline at once: they
        are cancelled (a thread is abandoned) and their users get the failure notice or edit,
        best effort, in the time left; anything still running at ``until`` is cancelled.
        """
        if not self.tasks:
            return
        loop = asyncio.get_running_loop()
        log.info("waiting for %d in-flight handler(s) to finish", len(self.tasks))
        budget = max(0.0, until - loop.time())
        reserve = min(FAILURE_EDIT_RESERVE, budget / 4)
        _, pending = await asyncio.wait(set(self.tasks), timeout=budget - reserve)
        if not pending:
            return
        for task in pending:
            if task in self._in_handler:  # a delivery under way keeps the time left to finish
                log.error(
                    "%s: handler still running %.1fs into shutdown, stopped",
                    task.get_name(),
                    budget - reserve,
                )
                self.expire(task)
        _, pending = await asyncio.wait(pending, timeout=max(0.0, until - loop.time()))
        for task in pending:
            log.error("%s: no answer could be delivered before shutdown", task.get_name())
            task.cancel()
