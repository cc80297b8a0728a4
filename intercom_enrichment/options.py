"""A run's options, defined once.

``RunOptions`` is the one typed definition of what a window run can be told. Everything else is
derived from it or checked against it by ``tests/test_parameters.py``:

- the flows' parameters (and so the form in the Prefect UI) use the field types below, with
  their descriptions and bounds, and ``RUN_DEFAULTS`` for defaults;
- the backfill passes ``RunOptions.model_dump()`` through to every window, so it cannot forget one;
- the CLI's ``run`` and ``backfill`` take the same fields (``CLI_OPTIONS``) as options built from
  their definition here (``flows/cli.py``: ``with_run_options``; ``--no-tickets`` for a flag
  on by default);
- ``deployments/prefect.yaml``'s parameters are validated against the flows.

The secret-block names are options too (names, never values), but only for Prefect runs: the CLI
reads the token and the HMAC key from the environment.
"""

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from intercom_enrichment.quality.pii import PiiMode

TaskRunnerName = Literal["threads", "dask"]
IntervalName = Literal["1h", "1d"]

Output = Annotated[str, Field(description="Output folder or fsspec URL (s3://bucket/prefix).")]
BatchSize = Annotated[
    int, Field(ge=10, le=20_000, description="Conversations per enrichment task (about).")
]
IncludeParts = Annotated[
    bool, Field(description="Fetch every conversation's parts (one call each).")
]
IncludeTickets = Annotated[
    bool,
    Field(
        description="Read tickets too (search, contacts, parts with include_parts, ticket "
        "types and states); a token without the tickets scope is reported, not fatal."
    ),
]
IncludeCompanies = Annotated[
    bool,
    Field(
        description="Read the companies the window's contacts reference (one call each); a "
        "token that may not read them is reported, not fatal."
    ),
]
IncludeSegments = Annotated[
    bool, Field(description="Fetch each contact's segments (one call per contact).")
]
Pii = Annotated[
    PiiMode,
    Field(
        description="Personal data (contact email/name/phone, part bodies and authors): keep, "
        "hash (HMAC-SHA256, key from INTERCOM_PII_HMAC_KEY or a Secret block) or drop."
    ),
]
TokenSecretBlock = Annotated[
    str | None,
    Field(description="Name of a Prefect Secret block holding the token (else the env)."),
]
PiiKeySecretBlock = Annotated[
    str | None,
    Field(description="Name of a Secret block with the HMAC key for pii=hash (else the env)."),
]
GlobalLimit = Annotated[
    str | None,
    Field(description="Prefect global concurrency limit shared by every run of this app."),
]

# Window resolution (the window flow) and backfill-only parameters: not passed through.
Interval = Annotated[
    IntervalName, Field(description="Window length when derived from the schedule.")
]
LagMinutes = Annotated[
    int, Field(ge=0, le=1440, description="Scheduled windows end this long before the slot.")
]
TaskRunner = Annotated[TaskRunnerName, Field(description="Where each window's batch tasks run.")]
DaskAddress = Annotated[
    str | None, Field(description="Existing Dask scheduler (tcp://…); else a local cluster.")
]


class RunOptions(BaseModel):
    """What every window run is told besides its window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    output: Output = "out/intercom"
    batch_size: BatchSize = 2000
    include_parts: IncludeParts = False
    include_tickets: IncludeTickets = True
    include_companies: IncludeCompanies = True
    include_segments: IncludeSegments = False
    pii: Pii = "keep"
    token_secret_block: TokenSecretBlock = None
    pii_key_secret_block: PiiKeySecretBlock = None
    global_limit: GlobalLimit = None

    @classmethod
    def pick(cls, values: Mapping[str, Any]) -> "RunOptions":
        """The run options among a flow's or a command's arguments (e.g. its ``locals()``)."""
        return cls(**{name: values[name] for name in cls.model_fields if name in values})


RUN_DEFAULTS = RunOptions()

# The options the CLI exposes (as --kebab-case flags); the secret blocks are Prefect's only.
CLI_OPTIONS = (
    "output",
    "batch_size",
    "include_parts",
    "include_tickets",
    "include_companies",
    "include_segments",
    "pii",
    "global_limit",
)
