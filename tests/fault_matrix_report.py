"""Run every case of the fault matrix once and print it as a markdown table.

    .venv/bin/python -m tests.fault_matrix_report              # one case after another
    .venv/bin/python -m tests.fault_matrix_report --parallel   # all at once (as the tests do)

Serially, each case has the machine to itself, so the retry counts are exactly those the
faults cause; a 429 storm waits for the sandbox's 10-second window, so this takes a minute.
"""

import argparse
import logging
import time

from tests.fault_cases import CASES, run_matrix, scratch, table_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", action="store_true", help="run the cases concurrently")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the listing's cursor warnings are expected
    began = time.monotonic()
    with scratch() as root:
        outcomes = run_matrix(CASES, root, parallel=args.parallel)
    print(table_markdown(outcomes))
    print()
    quarantined = sum(len(o.result.quarantine) for o in outcomes)
    print(
        f"{len(outcomes)} cases in {time.monotonic() - began:.0f} s; "
        f"rows quarantined on purpose (not counted as lost): {quarantined}; "
        f"runs not completed: {sum(o.result.manifest['status'] != 'completed' for o in outcomes)}"
    )
    bad = [o.case.name for o in outcomes if o.rows_lost or o.rows_wrong or o.injected == 0]
    if bad:
        raise SystemExit(f"cases that lost or changed rows, or injected nothing: {bad}")


if __name__ == "__main__":
    main()
