"""Lines for a resource's row (``_row_log``): outside the provider server nothing reaches an engine.
The rows themselves, through the real CLI: tests/e2e/test_replacement.py."""

from __future__ import annotations

import logging
import threading

import pytest

from vast_pulumi import _row_log


def test_outside_the_server_there_is_no_row_and_lines_go_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="vast_pulumi")
    assert _row_log.current_urn() is None
    _row_log.progress("instance 7: loading")
    _row_log.note("rented instance 7 from offer 9")
    _row_log.warn("the replacement would rent offer 9")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("DEBUG", "vast: instance 7: loading"),  # a status without a row is noise on the stack
        ("INFO", "vast: rented instance 7 from offer 9"),
        ("WARNING", "vast: the replacement would rent offer 9"),
    ]


def test_work_on_another_thread_reports_to_the_row_it_is_bound_to() -> None:
    seen: list[str | None] = []

    def member() -> None:
        with _row_log.bound("urn:pulumi:dev::p::vast:Fleet::f"):
            seen.append(_row_log.current_urn())
        seen.append(_row_log.current_urn())

    thread = threading.Thread(target=member)
    thread.start()
    thread.join()
    assert seen == ["urn:pulumi:dev::p::vast:Fleet::f", None]
