"""Airbyte's source-intercom, pointed at another base URL: run by `benchmarks.airbyte` with the
Python of the environment Airbyte is installed in (not the project's), so it imports nothing of
the project.

    <airbyte python> benchmarks/airbyte_source.py URL read --config C --catalog K

The connector's own manifest (``source_intercom/manifest.yaml``, as the package ships it) with
``url_base`` replaced; everything else (requests, pagination, rate limiting, record filtering)
is the connector's and the CDK's.
"""

import json
import sys
from pathlib import Path

import source_intercom
import yaml
from airbyte_cdk.entrypoint import launch
from airbyte_cdk.sources.declarative.manifest_declarative_source import ManifestDeclarativeSource

API_BASE = "https://api.intercom.io/"


def main() -> None:
    base, args = sys.argv[1].rstrip("/") + "/", sys.argv[2:]
    package = Path(source_intercom.__file__).parent
    text = (package / "manifest.yaml").read_text()
    if text.count(API_BASE) != 1:
        raise SystemExit("the connector's manifest no longer names its base URL once")
    manifest = yaml.safe_load(text.replace(API_BASE, base))
    # The package ships its spec beside the manifest, where the CDK finds it only for a source
    # class defined in the package; the manifest's own `spec` section says the same.
    spec = json.loads((package / "spec.json").read_text())
    manifest.setdefault(
        "spec",
        {
            "type": "Spec",
            "connection_specification": spec["connectionSpecification"],
            "documentation_url": spec.get("documentationUrl", ""),
        },
    )
    launch(ManifestDeclarativeSource(source_config=manifest), args)


if __name__ == "__main__":
    main()
