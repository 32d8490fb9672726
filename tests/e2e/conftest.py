"""Print how long each phase of the rehearsal took, to keep an eye on its budget."""

import pytest
from support.phases import PHASES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the timed phases after the test results."""
    if PHASES:
        terminalreporter.section("end-to-end rehearsal phases")
        for name, seconds in PHASES.items():
            terminalreporter.write_line(f"{seconds:7.1f} s  {name}")
