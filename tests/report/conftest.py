"""Golden files: ``pytest tests/report --update-golden`` (or ``UPDATE_GOLDEN=1``) rewrites them.

``pytest_addoption`` only runs for *initial* conftests, i.e. when ``tests/report`` (or a path
below it) is named on the command line. From the project root use ``UPDATE_GOLDEN=1 pytest``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/report/golden/* from the current reporters",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """``golden("text/broken.txt", rendered)``: compare with (or rewrite) the golden file."""
    update = bool(request.config.getoption("update_golden", default=False)) or (
        os.environ.get("UPDATE_GOLDEN") == "1"
    )

    def check(name: str, actual: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8", newline="")
            return
        assert path.is_file(), f"missing golden file {name}: run with --update-golden"
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"{name} differs (review, then rerun with --update-golden)"

    return check
