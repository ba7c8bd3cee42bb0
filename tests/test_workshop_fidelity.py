"""The default scenario reproduces the workshop's original generator (FACTS section 5a), measured
on three days of generated files at its default size."""

from __future__ import annotations

import pytest

from tests.workshop_fidelity import ORIGINAL, generate_three_days, profile


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    return profile(generate_three_days(tmp_path_factory.mktemp("fidelity")))


@pytest.mark.parametrize("measure", list(ORIGINAL))
def test_every_ratio_and_share_is_within_003_of_the_original(measured, measure):
    assert measured[measure] == pytest.approx(ORIGINAL[measure], abs=0.03)


def test_a_days_activity_is_0900_to_about_1005_utc(measured):
    # registration within ~30 min, emails up to 5 x 400 s after an identify at ~09:30
    assert "09:00:00" <= measured["earliest time of day"] < "09:00:30"
    assert "09:40:00" < measured["latest time of day"] < "10:06:00"
