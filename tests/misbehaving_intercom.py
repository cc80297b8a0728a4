"""A real HTTP/1.1 server on loopback that misbehaves on purpose (issue 9).

Raw asyncio, so that it can do what a well-behaved framework would not: trickle a body one byte
at a time, never answer, stream more bytes than any cap, send bytes that are not UTF-8, redirect,
or repeat a cursor forever. Each test gives it a ``handler(request) -> Reply``; by default it
answers like a small Intercom (``/me``, conversation search, contact search and GET).
"""

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .fake_intercom import contact, conversation

TOKEN = "tok-MISBEHAVE-7f3a9c"
DAY = 1_790_812_800  # 2026-10-01T00:00:00Z


@dataclass
class Request:
    method: str
    target: str  # the raw request target, as the client sent it
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    trickle_seconds: float | None = None  # send the body one byte at a time, this far apart
    hang: bool = False  # never answer
    stream_bytes: int = 0  # then this many more bytes of a JSON string, without Content-Length
    declare_length: bool = True


def reply_json(value: Any, status: int = 200, **kw: Any) -> Reply:
    return Reply(status, json.dumps(value).encode(), **kw)


def error_reply(status: int, code: str, headers: dict[str, str] | None = None) -> Reply:
    body = {"type": "error.list", "request_id": "r-1", "errors": [{"code": code, "message": code}]}
    return reply_json(body, status, headers=headers or {})


def search_page(items: list[dict[str, Any]], total: int | None, cursor: str | None) -> Reply:
    page: dict[str, Any] = {"type": "conversation.list", "conversations": items}
    if total is not None:
        page["total_count"] = total
    if cursor is not None:
        page["pages"] = {"type": "pages", "next": {"per_page": 150, "starting_after": cursor}}
    return reply_json(page)


def world(n: int = 3) -> list[dict[str, Any]]:
    """``n`` conversations in the day starting at ``DAY``, each with one contact."""
    return [conversation(100 + i, DAY + 60 * (i + 1), [f"{i:024x}"]) for i in range(n)]


def intercom(conversations: list[dict[str, Any]]) -> Callable[[Request], Reply]:
    """A well-behaved Intercom over ``conversations`` and their contacts."""

    def handle(request: Request) -> Reply:
        if request.path == "/me":
            return reply_json({"type": "admin", "id": "1", "email": "me@example.com"})
        if request.path == "/conversations/search":
            return search_page(conversations, len(conversations), None)
        if request.path == "/tickets/search":  # a workspace without tickets
            return reply_json({"type": "ticket.list", "tickets": [], "total_count": 0})
        if request.path == "/contacts/search":
            ids = request.json()["query"]["value"]
            return reply_json({"type": "list", "data": [contact(i) for i in ids]})
        if request.path.startswith("/contacts/"):
            return reply_json(contact(request.path.rsplit("/", 1)[1]))
        return error_reply(404, "not_found")

    return handle


class MisbehavingServer:
    def __init__(self, handler: Callable[[Request], Reply]) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.bytes_sent = 0  # of streamed bodies
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seen(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 30.0) -> None:
        """Poll (with a deadline) until ``count`` requests to ``path`` arrived."""
        deadline = time.monotonic() + timeout
        while len(self.seen(path)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} requests to {path} not seen in {timeout} s")
            time.sleep(0.02)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def start(self) -> "MisbehavingServer":
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await self._read(reader)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                if request.headers.get("authorization") != f"Bearer {TOKEN}":
                    reply = error_reply(401, "unauthorized")
                else:
                    reply = self.handler(request)
                await self._write(writer, reply)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Request | None:
        line = await reader.readline()
        if not line:
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Request(method, target, headers, body)

    async def _write(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        if reply.hang:
            await asyncio.Event().wait()  # until the client gives up and the loop stops
        head = [f"HTTP/1.1 {reply.status} X", f"Content-Type: {reply.content_type}"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        if reply.stream_bytes:  # close-delimited: no length, the body ends when we close
            head.append("Connection: close")
        elif reply.declare_length and "Content-Length" not in reply.headers:
            head.append(f"Content-Length: {len(reply.body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if reply.trickle_seconds is not None:
            for i in range(len(reply.body)):
                writer.write(reply.body[i : i + 1])
                await writer.drain()
                await asyncio.sleep(reply.trickle_seconds)
        else:
            writer.write(reply.body)
        await writer.drain()
        if reply.stream_bytes:
            chunk = b"x" * 65536
            for _ in range(reply.stream_bytes // len(chunk)):
                writer.write(chunk)
                await writer.drain()  # raises once the client hung up
                self.bytes_sent += len(chunk)
            writer.close()
            raise ConnectionResetError("body sent")


@contextmanager
def misbehaving(handler: Callable[[Request], Reply]) -> Iterator[MisbehavingServer]:
    server = MisbehavingServer(handler).start()
    try:
        yield server
    finally:
        server.stop()
