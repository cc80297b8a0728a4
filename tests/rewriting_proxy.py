"""A real HTTP server on loopback in front of the sandbox that rewrites what it answers.

Every request is forwarded to the sandbox; a JSON answer is handed to ``rewrite(method, path,
body)``, which may change it in place or return a whole ``Answer`` (status, headers, body) of its
own. Bodies are serialised with ``json.dumps`` as Python does (``Infinity``, ``NaN``, escaped lone
surrogates, integers of any size), and a ``Deep(n)`` value becomes ``n`` nested objects written as
text — deeper than any JSON encoder would recurse. The pipeline under test only sees a server.
"""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass(frozen=True)
class Deep:
    levels: int


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Rewrite = Callable[[str, str, Any], Answer | None]


def dumps(body: Any) -> str:
    deep: list[Deep] = []

    def default(value: Any) -> Any:
        if isinstance(value, Deep):
            deep.append(value)
            return f"__deep_{len(deep) - 1}__"
        raise TypeError(type(value).__name__)

    text = json.dumps(body, default=default)
    for k, d in enumerate(deep):
        text = text.replace(f'"__deep_{k}__"', '{"a":' * d.levels + "1" + "}" * d.levels)
    return text


class RewritingProxy:
    def __init__(self, upstream: str, rewrite: Rewrite | None = None) -> None:
        self.upstream = upstream
        self.rewrite = rewrite
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self)

            def do_POST(self) -> None:
                proxy._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._client = httpx.Client(base_url=upstream, timeout=30)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "RewritingProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        content = handler.rfile.read(length) if length else None
        headers = {
            k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length")
        }
        with self._lock:  # httpx.Client is not meant for concurrent use from threads
            upstream = self._client.request(
                handler.command, handler.path, content=content, headers=headers
            )
        status, out_headers = upstream.status_code, dict(upstream.headers)
        text = upstream.text
        path = handler.path.split("?", 1)[0]
        if "json" in upstream.headers.get("content-type", "") and self.rewrite is not None:
            body = upstream.json()
            answer = self.rewrite(handler.command, path, body)
            if answer is not None:
                status, body = answer.status, answer.body
                out_headers.update(answer.headers)
            text = dumps(body)
        payload = text.encode("utf-8")
        handler.send_response(status)
        for name, value in out_headers.items():
            if name.lower() not in ("content-length", "content-encoding", "transfer-encoding"):
                handler.send_header(name, value)
        handler.send_header("content-length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
