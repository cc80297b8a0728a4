"""One parameter set: the flows' parameters, the backfill's pass-through, the CLI options and the
deployments' parameters all agree with ``intercom_enrichment.options.RunOptions``; any drift
(a renamed, re-defaulted, re-bounded or forgotten option) fails here."""

import importlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from intercom_enrichment.options import CLI_OPTIONS, RUN_DEFAULTS, RunOptions
from intercom_enrichment_flows.cli import app

ROOT = Path(__file__).resolve().parents[1]
WHEN = datetime(2026, 10, 1, tzinfo=UTC)  # for parameters a deployment leaves to each run
MODEL = RunOptions.model_json_schema()["properties"]


def _comparable(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in ("title", "position")}


def _flows() -> dict[str, Any]:
    from intercom_enrichment_flows.backfill import backfill_conversations
    from intercom_enrichment_flows.enrich_conversations import enrich_conversations

    return {"enrich-conversations": enrich_conversations, "backfill": backfill_conversations}


@pytest.mark.parametrize("name", ["enrich-conversations", "backfill"])
def test_each_flow_takes_every_run_option_as_defined_once(name: str) -> None:
    properties = _flows()[name].parameters.model_dump()["properties"]
    for option, schema in MODEL.items():
        assert option in properties, f"{name} lacks the run option {option}"
        assert _comparable(properties[option]) == _comparable(schema), option
        assert properties[option]["default"] == getattr(RUN_DEFAULTS, option)
        assert properties[option].get("description"), f"{option}: no description in the UI"


def _cli_params(command: str) -> dict[str, Any]:
    group: Any = typer.main.get_command(app)
    return {p.name: p for p in group.commands[command].params if p.name}


@pytest.mark.parametrize("command", ["run", "backfill"])
def test_the_cli_offers_the_run_options_with_their_defaults(command: str) -> None:
    params = _cli_params(command)
    for option in CLI_OPTIONS:
        param = params.get(option)
        assert param is not None, f"{command} lacks --{option.replace('_', '-')}"
        assert param.help == RunOptions.model_fields[option].description  # type: ignore[attr-defined]
        if option == "output":
            assert param.required  # the CLI wants the output named explicitly
        else:
            assert param.default == getattr(RUN_DEFAULTS, option), option
    batch = params["batch_size"]
    assert (batch.min, batch.max) == (10, 20_000)  # the model's bounds


def test_the_backfill_passes_every_run_option_through() -> None:
    """The window parameters a backfill hands to each window are exactly the run options."""
    window_params = _flows()["enrich-conversations"].parameters.model_dump()["properties"]
    options = RunOptions(output="x", batch_size=11, include_parts=True, pii="drop")
    passed = {"start": None, "end": None, **options.model_dump()}
    assert set(passed) <= set(window_params)
    assert set(RunOptions.model_fields) == set(options.model_dump())


def test_deployment_parameters_are_flow_parameters_and_valid() -> None:
    config = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    assert config["deployments"]
    for deployment in config["deployments"]:
        path, attr = deployment["entrypoint"].split(":")
        module = path.removesuffix(".py").replace("/", ".")
        flow = getattr(importlib.import_module(module), attr)
        params = deployment.get("parameters", {})
        schema = flow.parameters.model_dump()
        unknown = set(params) - set(schema["properties"])
        assert not unknown, f"{deployment['name']}: {unknown}"
        given_at_run = {name: WHEN for name in schema.get("required", []) if name not in params}
        flow.validate_parameters({**params, **given_at_run})  # types and bounds, as enforced


def test_flags_on_by_default_are_turned_off_by_no_flags() -> None:
    """``--no-tickets``, ``--no-companies`` (on by default), ``--include-parts`` (off)."""
    for command in ("run", "backfill"):
        params = _cli_params(command)
        assert params["include_tickets"].secondary_opts == ["--no-tickets"]
        assert params["include_companies"].secondary_opts == ["--no-companies"]
        assert params["include_parts"].opts == ["--include-parts"]
        assert not params["include_parts"].secondary_opts
