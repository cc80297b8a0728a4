"""``intercom-enrich run`` against a misbehaving server (issue 9): a broken listing (a looping
cursor, a rate-limit hint a billion seconds away) ends in exit 1 with one
``intercom-enrich: error:`` line naming the limit; per-record misbehaviour (bad ids, a Link to
another host, a trickled, oversized, non-UTF-8 or deeply nested contact) leaves the rest of the
window written. The client-level twins of every case are in tests/test_hostile_server.py. The
token is nowhere in the output, stdout or stderr. The runs go in parallel, each bounded by a
deadline."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .fake_intercom import contact, conversation
from .misbehaving_intercom import (
    DAY,
    TOKEN,
    MisbehavingServer,
    Reply,
    Request,
    error_reply,
    intercom,
    misbehaving,
    reply_json,
    search_page,
    world,
)

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 120.0


def start_run(url: str, output: Path, **env: str) -> subprocess.Popen[str]:
    from prefect.settings import PREFECT_API_URL

    full = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")}
    full.update(
        env,
        INTERCOM_BASE_URL=url,
        INTERCOM_ACCESS_TOKEN=TOKEN,
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "intercom_enrichment_flows.cli", "run",
         "--start", "2026-10-01", "--end", "2026-10-02", "--output", str(output)],
        cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def listing(reply: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
    """A well-behaved Intercom whose conversation search answers ``reply``."""
    base = intercom(world(3))
    return lambda r: reply(r) if r.path == "/conversations/search" else base(r)


FATAL_LISTINGS: dict[str, tuple[Callable[[Request], Reply], dict[str, str], str]] = {
    "repeated cursor": (
        lambda r: search_page(world(2), 1000, "again"),
        {},
        "repeated a cursor",
    ),
    "retry-after a billion seconds": (
        lambda r: error_reply(429, "rate_limit_exceeded", {"Retry-After": "1000000000"}),
        {},
        "INTERCOM_MAX_WAIT=900 s",
    ),
}

# Per-record misbehaviour: each contact id below is answered badly by GET /contacts/{id}.
GOOD = [f"{i:024x}" for i in range(3)]
TRICKLED, NOT_UTF8, DEEP, MERGED_AWAY, OVERSIZED = (f"{0xBAD0 + i:024x}" for i in range(5))
BAD_IDS = ["../../me", "a/b", "a\x00b", "a\r\nb", "x" * 200_000]


def per_record(request: Request) -> Reply:
    path = request.path
    if path == "/me":
        return reply_json({"type": "admin", "id": "1"})
    if path == "/tickets/search":  # a workspace without tickets
        return reply_json({"type": "ticket.list", "tickets": [], "total_count": 0})
    if path == "/conversations/search":
        ids = [*GOOD, TRICKLED, NOT_UTF8, DEEP, MERGED_AWAY, OVERSIZED, *BAD_IDS]
        convs = [conversation(500 + i, DAY + 60 * (i + 1), [c]) for i, c in enumerate(ids)]
        return search_page(convs, len(convs), None)
    if path == "/contacts/search":  # finds only the good ones, and pages in a loop
        wanted = request.json()["query"]["value"]
        data = [contact(i) for i in wanted if i in GOOD]
        return reply_json(
            {"type": "list", "data": data, "pages": {"next": {"starting_after": "x"}}}
        )
    cid = path.rsplit("/", 1)[1]
    if cid == TRICKLED:
        return Reply(body=reply_json(contact(cid)).body, trickle_seconds=0.3)
    if cid == NOT_UTF8:
        return Reply(body=b'{"id": "\xff\xfe"}')
    if cid == DEEP:
        return Reply(body=b'{"a": ' * 5000 + b"1" + b"}" * 5000)
    if cid == OVERSIZED:
        return Reply(body=b'{"id": "', stream_bytes=256 * 2**20)
    if cid == MERGED_AWAY:
        link = '<https://elsewhere.example/contacts/abc123>; rel="canonical"'
        return error_reply(410, "contact_merged", {"Link": link})
    return reply_json(contact(cid))


def finish(proc: subprocess.Popen[str], output: Path) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"no end within {DEADLINE} s: {err[-3000:]}") from None
    assert TOKEN not in out + err
    for path in output.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    lines = [line for line in err.splitlines() if line.startswith("intercom-enrich: error:")]
    assert len(lines) == (proc.returncode != 0), err[-3000:]
    return proc.returncode, lines[0] if lines else ""


@pytest.mark.usefixtures("prefect_harness")
def test_the_cli_ends_cleanly_against_a_misbehaving_server(tmp_path: Path) -> None:
    servers: dict[str, MisbehavingServer] = {}
    procs: dict[str, subprocess.Popen[str]] = {}
    cases = {name: (listing(reply), env) for name, (reply, env, _) in FATAL_LISTINGS.items()}
    cases["per-record faults"] = (per_record, {"INTERCOM_REQUEST_TIMEOUT": "1",
                                               "INTERCOM_MAX_ATTEMPTS": "2",
                                               "INTERCOM_MAX_RESPONSE_MB": "1"})  # fmt: skip
    contexts = []
    try:
        for i, (name, (handler, env)) in enumerate(cases.items()):
            contexts.append(misbehaving(handler))
            servers[name] = contexts[-1].__enter__()
            procs[name] = start_run(servers[name].url, tmp_path / str(i), **env)
        results = {
            name: finish(proc, tmp_path / str(i)) for i, (name, proc) in enumerate(procs.items())
        }
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        for context in contexts:
            context.__exit__(None, None, None)

    for name, (_, _, needle) in FATAL_LISTINGS.items():
        code, line = results[name]
        assert code == 1 and needle in line, (name, line)

    code, line = results["per-record faults"]
    assert code == 1 and "could not be enriched" in line, line  # incomplete, not crashed
    output = tmp_path / str(len(FATAL_LISTINGS))
    manifest = json.loads(next((output / "_runs").glob("*.json")).read_text())
    assert manifest["status"] == "incomplete"
    assert manifest["metrics"]["status_enriched"] == len(GOOD)
    assert manifest["metrics"]["conversations_written"] == 3 + 5 + len(BAD_IDS)
    targets = [r.target for r in servers["per-record faults"].seen()]
    assert not [t for t in targets if ".." in t or "\r" in t or "%00" in t or len(t) > 100]
    assert "/contacts/abc123" not in targets  # the Link to another host was not followed
