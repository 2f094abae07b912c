"""The live tests' waiting helper: a timeout says why, not only what was awaited."""

import pytest

from tests.events.workers import wait_for


def test_a_timeout_carries_the_details():
    with pytest.raises(AssertionError, match=r"waiting for the standings\nworker log: nothing"):
        wait_for(lambda: False, 0, "the standings", details=lambda: "worker log: nothing")


def test_details_are_not_asked_for_when_the_condition_holds():
    asked: list[str] = []

    def details() -> str:
        asked.append("details")
        return ""

    wait_for(lambda: True, 0, "anything", details=details)
    assert asked == []
