"""The public API v2 of the demo stays what it was before the code was re-layered.

The reference JSON in tests/fixtures/demo_v2/ was written by the code before the move; ids are
replaced by their order of appearance and the clock is fixed, so only a change in what the API
answers can fail this test. After a deliberate change of a shape, rewrite the reference with
`WRITE_DEMO_V2=1 pytest tests/api/test_demo_v2_unchanged.py` and review the diff.
"""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from status.models import Page
from tests.publicviews import all_codes, by_appearance

REFERENCE = Path(__file__).parent.parent / "fixtures" / "demo_v2"
ENDPOINTS = [
    "summary.json",
    "status.json",
    "components.json",
    "incidents.json",
    "incidents/unresolved.json",
    "scheduled-maintenances.json",
    "scheduled-maintenances/upcoming.json",
    "scheduled-maintenances/active.json",
]


def normalised(text, codes, known):
    """The JSON with every id replaced by its order of first appearance."""
    return json.loads(by_appearance(text, codes, known))


@pytest.mark.parametrize("slug", ["jelou", "acme"])
def test_the_demo_v2_json_is_unchanged(db, client, settings, slug):
    settings.DEBUG = True
    with time_machine.travel(datetime(2026, 11, 1, 12, 0, tzinfo=UTC), tick=False):
        call_command("demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
        page = Page.objects.get(slug=slug)
        codes, known = {page.code: "<page>"}, all_codes()
        answers = {}
        for endpoint in ENDPOINTS:
            response = client.get(f"/p/{slug}/api/v2/{endpoint}")
            assert response.status_code == 200, endpoint
            answers[endpoint] = normalised(response.content.decode(), codes, known)
    reference = REFERENCE / f"{slug}.json"
    if os.environ.get("WRITE_DEMO_V2"):
        reference.write_text(json.dumps(answers, indent=1, sort_keys=False) + "\n")
    assert answers == json.loads(reference.read_text())
