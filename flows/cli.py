"""``intercom-enrich``: run a window, serve the sandbox, or run the demo.

Bad arguments, a missing token or an unusable output: one line on stderr, exit 2.
A run that fails: one line on stderr, exit 1. Times without a zone are taken as UTC.
"""

import asyncio
import contextlib
import functools
import inspect
import logging
import os
import sys
import typing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import typer

from intercom_enrichment.api.client import check_access
from intercom_enrichment.api.settings import CALLS_PER_10S, IntercomSettings
from intercom_enrichment.errors import (
    ConfigError,
    FatalError,
    IntercomEnrichmentError,
    IntercomError,
    OutputError,
)
from intercom_enrichment.limits import PREFECT_STARTUP
from intercom_enrichment.memory import limit_malloc_arenas
from intercom_enrichment.options import CLI_OPTIONS, RUN_DEFAULTS, RunOptions
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.quality.pii import PiiPolicy
from intercom_enrichment.signals import interruptible
from intercom_enrichment.windows import Window, check_not_future, parse_instant
from intercom_enrichment_flows.early_server import EarlyServer, serving

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Intercom conversations enriched with their contacts, as Parquet.",
)

EXIT_FAILED, EXIT_USAGE = 1, 2


def _fail(message: str, code: int) -> None:
    typer.echo(f"intercom-enrich: error: {message}", err=True)
    raise typer.Exit(code)


def _quiet_prefect() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@contextlib.contextmanager
def _prefect_startup_bound() -> Iterator[None]:
    """Our bound on the start of Prefect's temporary API server (``limits.PREFECT_STARTUP``)
    for the block, unless the user set one (environment, profile or prefect.toml: any source
    Prefect reads marks the field as set)."""
    from prefect.settings import (
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        get_current_settings,
        temporary_settings,
    )

    if "startup_timeout_seconds" in get_current_settings().server.ephemeral.model_fields_set:
        yield
        return
    bound = int(PREFECT_STARTUP.default)
    with temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: bound}):
        yield


def _window(start: str, end: str) -> Window:
    return Window(parse_instant(start), parse_instant(end))


def _preflight(
    start: str, end: str, options: RunOptions, task_runner: str
) -> tuple[Window, EarlyServer | None]:
    """Every check before any work: dates, token, output, task runner, and one GET /me. In
    embedded mode Prefect's temporary server starts once the local checks have passed, and
    boots while the rest run (``early_server``)."""
    try:
        window = _window(start, end)
        check_not_future(window.end, datetime.now(UTC))
        settings = IntercomSettings.from_env()
        PiiPolicy.from_env(options.pii)
        Storage(options.output).check_writable()
    except (ConfigError, OutputError) as exc:
        _fail(str(exc), EXIT_USAGE)
    _quiet_prefect()  # before the early server starts: it inherits the environment
    early = EarlyServer.start()
    from intercom_enrichment_flows.enrich_conversations import check_task_runner

    try:
        check_task_runner(task_runner)
    except ConfigError as exc:
        _fail(str(exc), EXIT_USAGE)
    try:
        asyncio.run(check_access(settings))
    except IntercomError as exc:
        _fail(str(exc), EXIT_USAGE if isinstance(exc, FatalError) else EXIT_FAILED)
    return window, early


def run_flow(
    window: Window,
    options: RunOptions,
    task_runner: str = "threads",
    dask_address: str | None = None,
    early: EarlyServer | None = None,
) -> dict[str, Any]:
    """Run ``enrich-conversations`` for ``window`` in this process (batch tasks on threads or
    Dask), against ``early`` if Prefect would start a temporary server."""
    _quiet_prefect()
    from intercom_enrichment_flows.enrich_conversations import with_task_runner

    try:
        flow = with_task_runner(task_runner, dask_address)
    except ConfigError as exc:
        _fail(str(exc), EXIT_USAGE)
    return _run(flow, early, start=window.start, end=window.end, **options.model_dump())


def _run(flow: Any, early: EarlyServer | None = None, **params: Any) -> dict[str, Any]:
    """Run a flow (against ``early`` in embedded mode: ``early_server.serving``); map failures to
    one-line errors and exit codes."""
    try:
        with _prefect_startup_bound(), serving(early):
            return dict(flow(**params))
    except (ConfigError, OutputError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except IntercomEnrichmentError as exc:
        _fail(str(exc), EXIT_FAILED)
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {exc}", EXIT_FAILED)
    raise AssertionError("unreachable")


def _from_model(name: str) -> dict[str, Any]:
    """Help text and bounds of the run option ``name``, from its one definition in
    ``RunOptions`` (``pii`` is checked by ``PiiPolicy``, for a one-line error)."""
    info = RunOptions.model_fields[name]
    bounds = {
        key: getattr(meta, attr)
        for meta in info.metadata
        for key, attr in (("min", "ge"), ("max", "le"))
        if getattr(meta, attr, None) is not None
    }
    return {"help": info.description, **bounds}


StartOpt = Annotated[str, typer.Option(help="Window start, ISO 8601; no zone means UTC.")]
EndOpt = Annotated[str, typer.Option(help="Window end (exclusive), ISO 8601; no zone means UTC.")]
RunnerOpt = Annotated[
    str, typer.Option(help="Where batch tasks run: threads, or dask (needs PREFECT_API_URL).")
]
DaskOpt = Annotated[
    str | None, typer.Option(help="Dask scheduler address (tcp://…); else a local cluster.")
]
OutputOpt = Annotated[str, typer.Option(**_from_model("output"))]


def _cli_option(name: str) -> Any:
    """The typed typer option of the run option ``name``, derived from its one definition in
    ``RunOptions``: ``--include-x`` for a flag that is off by default, ``--include-x/--no-x``
    for one that is on (``--no-tickets``); a choice among literals is a string checked where
    it is used (``PiiPolicy``: one-line errors)."""
    info = RunOptions.model_fields[name]
    kind: Any = info.annotation
    flag = "--" + name.replace("_", "-")
    if kind is bool:
        off = "--no-" + name.removeprefix("include_").replace("_", "-")
        decls = [flag] if not info.default else [f"{flag}/{off}"]
    else:
        decls = [flag]
        kind = str if typing.get_origin(kind) is Literal else kind
    return Annotated[kind, typer.Option(*decls, **_from_model(name))]


def with_run_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` takes the run options (``CLI_OPTIONS``: its ``output`` by name, the others
    added here) and receives them as ``options: RunOptions``, validated in one line."""
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "options"]
    added = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=getattr(RUN_DEFAULTS, name),
            annotation=_cli_option(name),
        )
        for name in CLI_OPTIONS
        if name not in {p.name for p in own}
    ]

    extra = {p.name for p in added}

    @functools.wraps(command)
    def wrapper(**values: Any) -> None:
        picked = {n: v for n, v in values.items() if n in RunOptions.model_fields}
        own_values = {n: v for n, v in values.items() if n not in extra}
        command(**own_values, options=_options(picked))

    parameters = [*own, *added]
    wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


@app.command()
@interruptible
@with_run_options
def run(
    start: StartOpt,
    end: EndOpt,
    output: OutputOpt,
    task_runner: RunnerOpt = "threads",
    dask_address: DaskOpt = None,
    *,
    options: RunOptions,
) -> None:
    """Enrich the conversations updated in [START, END) and write Parquet to OUTPUT.

    The token comes from INTERCOM_ACCESS_TOKEN; the API from INTERCOM_BASE_URL or
    INTERCOM_REGION (us, eu, au).
    """
    window, early = _preflight(start, end, options, task_runner)
    result = run_flow(window, options, task_runner, dask_address, early)
    typer.echo(f"wrote {len(result['files'])} files for {result['window']} to {options.output}")


def _options(values: dict[str, Any]) -> RunOptions:
    try:
        return RunOptions.pick(values)
    except ValueError as exc:  # pydantic's ValidationError: the first problem, in one line
        errors = exc.errors() if hasattr(exc, "errors") else []
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        _fail(
            f"invalid --{where.replace('_', '-')}: {errors[0]['msg'] if errors else exc}",
            EXIT_USAGE,
        )
    raise AssertionError("unreachable")


@app.command()
@interruptible
@with_run_options
def backfill(
    start: StartOpt,
    end: EndOpt,
    output: OutputOpt,
    every: Annotated[str, typer.Option(help="Window length: 1h or 1d.")] = "1d",
    max_concurrent: Annotated[int, typer.Option(min=1, max=16, help="Windows at once.")] = 2,
    force: Annotated[bool, typer.Option("--force", help="Redo completed windows.")] = False,
    task_runner: RunnerOpt = "threads",
    dask_address: DaskOpt = None,
    *,
    options: RunOptions,
) -> None:
    """Walk [START, END) window by window; completed windows are skipped, so a killed
    backfill resumes where it stopped."""
    if every not in ("1h", "1d"):
        _fail(f"--every must be 1h or 1d, not {every!r}", EXIT_USAGE)
    window, early = _preflight(start, end, options, task_runner)
    from tqdm import tqdm

    from intercom_enrichment.windows import make_windows, parse_every
    from intercom_enrichment_flows.backfill import backfill_conversations, progress_listeners

    total = len(make_windows(window.start, window.end, parse_every(every)))
    with tqdm(total=total, unit="window", desc="backfill", file=sys.stderr) as bar:

        def advance(w: Window, outcome: str) -> None:
            bar.set_postfix_str(f"{w.label} {outcome}")
            bar.update(1)

        progress_listeners.append(advance)
        try:
            result = _run(
                backfill_conversations,
                early,
                start=window.start,
                end=window.end,
                every=every,
                max_concurrent_windows=max_concurrent,
                force=force,
                task_runner=task_runner,
                dask_address=dask_address,
                **options.model_dump(),
            )
        finally:
            progress_listeners.remove(advance)
    typer.echo(f"backfill done: {result['ran']} windows run, {result['skipped']} already complete")


@app.command()
def budget(
    name: Annotated[str, typer.Argument(help="Name of the global concurrency limit.")],
    calls_per_10s: Annotated[
        int, typer.Option(min=1, help="The app's limit: calls per 10 s (1666 = 10,000/min).")
    ] = CALLS_PER_10S,
) -> None:
    """Create or update the Prefect global concurrency limit that every run of one Intercom
    app shares (pass its name as --global-limit). Needs PREFECT_API_URL."""
    _quiet_prefect()
    from intercom_enrichment_flows.enrich_conversations import prefect_api_configured
    from intercom_enrichment_tasks.budget import ensure_global_limit

    if not prefect_api_configured():
        _fail("PREFECT_API_URL is not set: a shared budget needs a Prefect server", EXIT_USAGE)

    asyncio.run(ensure_global_limit(name, calls_per_10s))
    typer.echo(f"global concurrency limit {name!r}: {calls_per_10s} calls per 10 s")


def _need_sandbox() -> None:
    """The sandbox's web server comes with the ``sandbox`` extra: say so in one line."""
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        _fail(
            f"the sandbox needs {', '.join(missing)}: pip install 'intercom-enrichment[sandbox]'",
            EXIT_USAGE,
        )


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8765,
    conversations: Annotated[int, typer.Option(help="Conversations in the world.")] = 2000,
    contacts: Annotated[int, typer.Option(help="Distinct contacts in the world.")] = 600,
    tickets: Annotated[
        int | None,
        typer.Option(min=0, help="Tickets in the world (default: a quarter of the conversations)."),
    ] = None,
    start: Annotated[str, typer.Option(help="Start of the data's time range (UTC).")] = (
        "2026-10-01T00:00:00Z"
    ),
    days: Annotated[float, typer.Option(min=0.001, help="Length of the data's range.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 7,
    rate_limit: Annotated[int, typer.Option(help="Calls per 10 s (0: unlimited).")] = (
        CALLS_PER_10S
    ),
    latency_ms: Annotated[
        str, typer.Option(help="Latency range per request, LOW:HIGH in ms.")
    ] = "0:0",
) -> None:
    """Serve the simulated Intercom API on 127.0.0.1 until interrupted."""
    _need_sandbox()
    from intercom_enrichment.sandbox import SandboxConfig, SandboxServer, serve_forever

    try:
        low, high = (int(x) for x in latency_ms.split(":"))
        first = parse_instant(start)
        config = SandboxConfig(
            seed=seed,
            conversations=conversations,
            contacts=contacts,
            tickets=tickets,
            window_start=first,
            window_end=first + timedelta(days=days),
            rate_limit=rate_limit,
            latency_ms=(low, high),
        )
    except (ValueError, ConfigError) as exc:
        _fail(f"invalid sandbox option: {exc}", EXIT_USAGE)

    def ready(server: SandboxServer) -> None:
        data = Window(config.window_start, datetime.fromtimestamp(config.end_ts, UTC))
        typer.echo(f"INTERCOM_BASE_URL={server.url}")
        typer.echo(f"INTERCOM_ACCESS_TOKEN={server.token}")
        typer.echo(f"conversations updated in [{data.start.isoformat()}, {data.end.isoformat()})")

    serve_forever(config, port=port, on_ready=ready)


@app.command()
def demo(
    output: OutputOpt = "out/demo",
    conversations: Annotated[int, typer.Option(help="Conversations in the sandbox.")] = 2000,
) -> None:
    """Start the sandbox, enrich its day of conversations with parts, and show the result."""
    _need_sandbox()
    _quiet_prefect()
    early = EarlyServer.start()  # boots while the sandbox starts
    from intercom_enrichment.demo import print_summary
    from intercom_enrichment.sandbox import SandboxConfig, SandboxServer

    config = SandboxConfig(conversations=conversations, contacts=max(conversations // 3, 1))
    assert config.window_end is not None
    window = Window(config.window_start, config.window_end)
    options = RunOptions(output=output, include_parts=True)
    with (
        SandboxServer(config) as server,
        _environ(INTERCOM_BASE_URL=server.url, INTERCOM_ACCESS_TOKEN=server.token),
    ):
        typer.echo(f"sandbox serving {conversations} conversations at {server.url}")
        result = run_flow(window, options, early=early)
    print_summary(result, output)


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set environment variables for the block; restore what was there before."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@app.command()
def refresh(
    output: OutputOpt,
    full: Annotated[
        bool, typer.Option("--full", help="Rebuild from every window, not just new ones.")
    ] = False,
    memory_limit: Annotated[
        str, typer.Option(help="DuckDB memory limit (beyond it, DuckDB spills to disk).")
    ] = "512MB",
) -> None:
    """Fold newly published windows into OUTPUT/current/ and OUTPUT/marts/."""
    from intercom_enrichment import marts

    storage = _existing_output(output)
    try:
        result = marts.refresh(storage.url, full=full, memory_limit=memory_limit)
    except (ConfigError, OutputError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except Exception as exc:  # DuckDB, I/O: the refresh failed, published windows untouched
        _fail(f"refresh failed: {type(exc).__name__}: {exc}", EXIT_FAILED)
    typer.echo(
        f"refreshed {output}: {result.windows_folded} windows folded, "
        f"{len(result.months)} months rewritten, {len(result.files)} files, "
        f"{result.seconds:.1f} s"
    )


@app.command()
def report(
    output: OutputOpt,
    days: Annotated[int, typer.Option(min=1, max=3660, help="Days up to the latest.")] = 14,
) -> None:
    """Print the last DAYS days of OUTPUT/marts/support_daily (run refresh first)."""
    from intercom_enrichment import marts

    storage = _existing_output(output)
    typer.echo(marts.report(storage.url, days))


def _existing_output(output: str) -> Storage:
    """An output folder that holds at least one run (its _runs/), or exit 2."""
    try:
        storage = Storage(output)
        if not storage.exists("_runs"):
            _fail(f"output {output!r} holds no runs (no _runs/)", EXIT_USAGE)
    except OutputError as exc:
        _fail(str(exc), EXIT_USAGE)
    return storage


# Commands that use DuckDB and Arrow but not Prefect. Once they have printed their result, the
# process ends at once: the native libraries' thread pools can abort the interpreter's own
# teardown (std::terminate on a still-joinable thread, apache/arrow#34314). `report`, 4 at a
# time on this 2-core machine, exited 134 after printing its table in 1 of 60 runs. Prefect's
# commands keep the normal exit, which flushes their logs and events to the API.
EXIT_AT_ONCE = frozenset({"refresh", "report"})


def main(argv: list[str] | None = None) -> None:
    """The process's entry point (``intercom-enrich``): it ends the process."""
    limit_malloc_arenas()  # before any thread starts (memory.py)
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args, standalone_mode=True)
    except IntercomEnrichmentError as exc:  # pragma: no cover - commands map their own
        _fail(str(exc), EXIT_FAILED)
    except SystemExit as exc:
        if exc.code not in (0, None):
            # Our error line is the last one: Prefect's services drain at exit and log after it
            # (its EventsWorker's "Still processing items" warning, a logger outside "prefect").
            logging.disable(logging.CRITICAL)
        if args[:1] and args[0] in EXIT_AT_ONCE and isinstance(exc.code, int | None):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.code or 0)
        raise


if __name__ == "__main__":  # pragma: no cover
    main()
