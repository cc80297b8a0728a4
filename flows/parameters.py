"""Flow parameters described once, in their annotations.

Prefect's parameter schema (the form in the UI) takes a flat parameter's description from the
function docstring's ``Args:`` section, not from ``Field(description=…)`` (Prefect 3.9,
``prefect.utilities.callables.parameter_schema``). ``describe_parameters`` writes that section
from the annotations, so the descriptions in ``intercom_enrichment/options.py`` are the only copy.
"""

import inspect
import typing
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def describe_parameters(fn: F) -> F:
    """Append a Google-style ``Args:`` section built from each parameter's annotation."""
    hints = typing.get_type_hints(fn, include_extras=True)
    lines = []
    for name in inspect.signature(fn).parameters:
        metadata = getattr(hints.get(name), "__metadata__", ())
        text = next((m.description for m in metadata if getattr(m, "description", None)), None)
        if text:
            lines.append(f"    {name}: {text}")
    doc = inspect.cleandoc(fn.__doc__ or "")
    fn.__doc__ = f"{doc}\n\nArgs:\n" + "\n".join(lines) if lines else doc
    return fn
