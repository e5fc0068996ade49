"""The model methods that write Markdown refuse more than MARKDOWN_MAX_LENGTH characters, so no
way in (console, API, a script) stores a text longer than the renderer's budget allows."""

import pytest
from django.core.exceptions import ValidationError

from incidents.markdown import MARKDOWN_MAX_LENGTH
from incidents.models import Incident, IncidentStatus, IncidentUpdate

TOO_LONG = "a" * (MARKDOWN_MAX_LENGTH + 1)


@pytest.fixture
def incident(page):
    return Incident.declare(page, name="API errors", body="Looking into it.")


def test_declaring_with_a_body_over_the_cap_saves_nothing(page):
    with pytest.raises(ValidationError, match=f"at most {MARKDOWN_MAX_LENGTH} characters"):
        Incident.declare(page, name="API errors", body=TOO_LONG)

    assert not Incident.objects.exists()
    assert not IncidentUpdate.objects.exists()


def test_a_body_of_exactly_the_cap_is_kept_and_rendered(incident):
    update = incident.post_update(
        IncidentStatus.IDENTIFIED, "*a*" + "b" * (MARKDOWN_MAX_LENGTH - 3)
    )

    assert len(update.body) == MARKDOWN_MAX_LENGTH
    assert update.body_rendered.startswith("<p><em>a</em>bbb")


def test_an_update_over_the_cap_is_refused(incident):
    with pytest.raises(ValidationError):
        incident.post_update(IncidentStatus.IDENTIFIED, TOO_LONG)

    assert incident.updates.count() == 1
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING


def test_an_update_cannot_be_edited_to_over_the_cap(incident):
    update = incident.updates.get()
    with pytest.raises(ValidationError):
        update.edit(body=TOO_LONG, by=None)

    update.refresh_from_db()
    assert update.body == "Looking into it."


def test_a_postmortem_over_the_cap_is_neither_saved_nor_published(incident):
    incident.resolve()
    with pytest.raises(ValidationError):
        incident.save_postmortem_draft(TOO_LONG)
    with pytest.raises(ValidationError):
        incident.publish_postmortem(TOO_LONG)

    incident.refresh_from_db()
    assert (incident.postmortem_draft, incident.postmortem_body) == ("", "")
    assert incident.status == IncidentStatus.RESOLVED
