"""The admin socket: a Unix socket server speaking protocol.py, beside the daemon loop.

The server runs its own asyncio loop in one thread, so the daemon's loop
never waits on a client and a client never waits on a tick. Calls into the
daemon (the `Backend`) run on a small thread pool; model calls (parse,
summaries) on a single thread of their own, one at a time.

Who may do what comes from the kernel (SO_PEERCRED), never from the request:
root, the daemon's own user and members of the admin group may change
things; members of the viewer group may only ask; everyone else is refused.
The socket file itself is world-connectable so that a refusal is an answer
naming the reason rather than a bare "permission denied".

A client cannot take the daemon down: every request line is bounded
(`max_request`), every read and write has a timeout, every malformed line
gets an error response, and any exception is confined to its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import pwd
import socket
import stat
import struct
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from llmosd.contract import (
    ActCommand,
    Action,
    Command,
    Gpu,
    Job,
    Mode,
    Service,
    Update,
)
from llmosd.errors import LlmosdError, ModelError, ProtocolError, UsageError
from llmosd.explain import explain
from llmosd.protocol import (
    MAX_REQUEST,
    ActResult,
    ApproveReq,
    AuditQuery,
    AuditRecord,
    AuditReq,
    AutonomyReq,
    AutonomyState,
    CancelReq,
    CommandReq,
    ErrorCode,
    ExplainReq,
    Explanation,
    JobSpec,
    ListReq,
    ParseReq,
    Peer,
    Refusal,
    Request,
    RequestError,
    Response,
    Role,
    StatusReq,
    StatusView,
    SubmitReq,
    decode_request,
    dump_result,
    encode,
)

log = logging.getLogger(__name__)

RoleMap = Callable[[int, int], Role | None]
Parse = Callable[[str, datetime], Command]
Summarise = Callable[[Explanation], str]


class Backend(Protocol):
    """What the daemon offers the socket. Methods may block (they run on a thread pool) and
    raise `RequestError` to pick the error code (`not_found`, `refused`), or any LlmosdError."""

    def status(self) -> StatusView: ...
    def gpus(self, target: str) -> list[Gpu]: ...
    def jobs(self, target: str) -> list[Job]: ...
    def services(self, target: str) -> list[Service]: ...
    def updates(self, target: str) -> list[Update]: ...
    def audit(self, query: AuditQuery) -> Sequence[AuditRecord | dict[str, Any]]:
        """The newest `query.limit` matching records, oldest first (audit.Record.wire() dicts will do)."""
        ...

    def approve(self, approval_id: str, who: Peer) -> ActResult: ...
    def deny(self, approval_id: str, who: Peer, reason: str) -> ActResult: ...
    def set_autonomy(self, mode: Mode, until: datetime | None, who: Peer) -> AutonomyState: ...
    def act(self, action: Action, who: Peer, text: str) -> ActResult:
        """Judge `action` with the guard like any other proposal (actor `who.actor()`), run it if allowed."""
        ...

    def submit(self, job: JobSpec, who: Peer) -> Job: ...
    def cancel(self, job_id: str, who: Peer) -> ActResult: ...


def group_roles(admin_group: str = "llmosd-admin", viewer_group: str = "llmosd-view") -> RoleMap:
    """uid → role from the group database, read on every connection so changes apply at once."""
    own = os.geteuid()

    def lookup(uid: int, gid: int) -> Role | None:
        if uid in (0, own):
            return "admin"
        name = user_name(uid)
        for group, role in ((admin_group, "admin"), (viewer_group, "viewer")):
            try:
                g = grp.getgrnam(group)
            except KeyError:
                continue
            if gid == g.gr_gid or name in g.gr_mem:
                return role  # type: ignore[return-value]
        return None

    return lookup


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end, as the kernel recorded it at connect()."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return pid, uid, gid


class Server:
    def __init__(
        self,
        path: str | Path,
        backend: Backend,
        *,
        parse: Parse | None = None,
        summarise: Summarise | None = None,
        roles: RoleMap | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now().astimezone(),
        max_request: int = MAX_REQUEST,
        read_timeout: float = 10.0,
        max_clients: int = 1024,
        workers: int = 4,
    ):
        self.path = Path(path)
        self.backend, self.parse, self.summarise = backend, parse, summarise
        self.roles = roles or group_roles()
        self.clock = clock
        self.max_request, self.read_timeout, self.max_clients = max_request, read_timeout, max_clients
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="llmosd-socket")
        self._model_pool = ThreadPoolExecutor(1, thread_name_prefix="llmosd-socket-model")
        self._clients: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.served = 0  # requests answered, for the daemon's metrics

    # ------------------------------------------------------------ life cycle

    def start(self) -> Server:
        """Listen in a background thread; returns once the socket accepts connections."""
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), name="llmosd-socket")
        self._thread.daemon = True
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own meanwhile
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._model_pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Server:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            server = await self._listen()
        except BaseException as e:  # handed to start()'s caller
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        log.info("admin socket listening on %s", self.path)
        async with server:
            await self._stop.wait()
            server.close()
            for task in list(self._clients):
                task.cancel()
            await asyncio.gather(*self._clients, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _listen(self) -> asyncio.AbstractServer:
        self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            if not stat.S_ISSOCK(self.path.lstat().st_mode):
                raise ProtocolError(f"{self.path}: exists and is not a socket; not replacing it")
            if await _answers(self.path):
                raise ProtocolError(f"{self.path}: another daemon is listening there")
            self.path.unlink()  # left over from a daemon that died
        server = await asyncio.start_unix_server(
            self._client, path=str(self.path), limit=self.max_request, backlog=1024
        )
        os.chmod(self.path, 0o666)
        return server

    # ------------------------------------------------------------ connections

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            if len(self._clients) > self.max_clients:
                await self._send(writer, _error(None, "busy", "too many connections; try again"))
                return
            await self._conversation(reader, writer, self._peer(writer.get_extra_info("socket")))
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            pass  # the client went away or the server is stopping: nothing to answer
        except Exception:
            log.exception("admin socket: connection failed")
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    def _peer(self, sock: socket.socket) -> Peer | None:
        pid, uid, gid = peer_credentials(sock)
        role = self.roles(uid, gid)
        if role is None:
            log.warning("admin socket: refused uid %d (pid %d): in neither admin nor viewer group", uid, pid)
            return None
        return Peer(pid=pid, uid=uid, gid=gid, user=user_name(uid), role=role)

    async def _conversation(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer | None
    ) -> None:
        while True:
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), self.read_timeout)
            except asyncio.IncompleteReadError as e:
                if e.partial.strip():
                    await self._send(writer, _error(None, "incomplete", "connection closed mid-request"))
                return
            except asyncio.LimitOverrunError:
                msg = f"request longer than {self.max_request} bytes; closing"
                await self._send(writer, _error(None, "too_large", msg))
                return
            except TimeoutError:
                msg = f"no complete request line within {self.read_timeout:g} s; closing"
                await self._send(writer, _error(None, "timeout", msg))
                return
            if not line.strip():
                continue
            await self._send(writer, await self._answer(line, peer))
            if peer is None:
                return

    async def _send(self, writer: asyncio.StreamWriter, resp: Response) -> None:
        self.served += 1  # counted before the client can see it, so a finished client is always counted
        writer.write(encode(resp))
        await asyncio.wait_for(writer.drain(), self.read_timeout)

    async def _answer(self, line: bytes, peer: Peer | None) -> Response:
        seq = None
        try:
            req = decode_request(line)
            seq = req.seq
            _allowed(req, peer)
            if isinstance(req, CommandReq):
                req = req.expand()
            assert peer is not None
            loop = asyncio.get_running_loop()
            if isinstance(req, ParseReq):
                cmd = await loop.run_in_executor(self._model_pool, self._parse, req)
                return Response(seq=seq, ok=True, result=dump_result("parse", cmd))
            value = await loop.run_in_executor(self._pool, self._handle, req, peer)
            if isinstance(value, Explanation) and value.records and _wants_summary(req):
                value = await loop.run_in_executor(self._model_pool, self._summary, value)
            return Response(seq=seq, ok=True, result=dump_result(req.op, value))
        except RequestError as e:
            return _error(seq if e.seq is None else e.seq, e.code, str(e))
        except LlmosdError as e:
            code: ErrorCode = "bad_request" if isinstance(e, UsageError) else "failed"
            return _error(seq, "unavailable" if isinstance(e, ModelError) else code, str(e))
        except Exception:
            log.exception("admin socket: request failed: %.200r", line)
            return _error(seq, "internal", "internal error; the daemon's log has the details")

    # ------------------------------------------------------------ requests

    def _parse(self, req: ParseReq) -> Command:
        if self.parse is None:
            raise RequestError("unavailable", "no language model is loaded in this daemon")
        return self.parse(req.text, req.now or self.clock())

    def _summary(self, ex: Explanation) -> Explanation:
        if self.summarise is None:
            return ex
        try:
            return ex.model_copy(update={"summary": self.summarise(ex)})
        except ModelError as e:  # the records are the answer; a summary is a nicety
            log.warning("explain: no summary: %s", e)
            return ex

    def _handle(self, req: Request, peer: Peer) -> Any:
        b = self.backend
        if isinstance(req, StatusReq):
            return b.status()
        if isinstance(req, ListReq):
            lister: Callable[[str], Any] = getattr(b, req.op)
            return lister(req.target)
        if isinstance(req, AuditReq):
            return b.audit(req.query)
        if isinstance(req, ExplainReq):
            return explain(req.target, b.audit(AuditQuery(about=req.target, since=req.since, limit=200)))
        if isinstance(req, ApproveReq):
            return b.approve(req.id, peer) if req.op == "approve" else b.deny(req.id, peer, req.reason)
        if isinstance(req, AutonomyReq):
            return b.set_autonomy(req.mode, req.until, peer)
        if isinstance(req, SubmitReq):
            return b.submit(req.job, peer)
        if isinstance(req, CancelReq):
            return b.cancel(req.job, peer)
        if isinstance(req, CommandReq) and isinstance(req.command, ActCommand):
            return b.act(req.command.action, peer, req.text)
        raise RequestError("bad_request", f"op {req.op!r} is not served here")


def _allowed(req: Request, peer: Peer | None) -> None:
    if peer is None:
        raise RequestError("forbidden", "you are neither root nor in llmosd's admin or viewer group")
    if req.changes() and peer.role != "admin":
        raise RequestError("forbidden", f"{peer.user} may only query (viewer); {req.op} changes the machine")


def _wants_summary(req: Request) -> bool:
    return isinstance(req, ExplainReq) and req.summarise


def _error(seq: int | None, code: ErrorCode, message: str) -> Response:
    return Response(seq=seq, ok=False, error=Refusal(code=code, message=message))


async def _answers(path: Path) -> bool:
    try:
        _, w = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 2.0)
    except (OSError, TimeoutError):
        return False
    w.close()
    return True
