"""A console form is carried out once: sending the same rendered form again (a double click, a
reload, the back button) changes nothing twice and says so."""

import re

from incidents.models import Incident
from status.models import SubmittedForm

TOKEN = re.compile(r'name="submit_once" value="([^"]+)"')


def declare_form(editor, page):
    return editor.get(f"/manage/{page.code}/incidents/new/").content.decode()


def token_of(html):
    return TOKEN.search(html).group(1)


def declare(editor, page, token, name="API errors", **headers):
    data = {"name": name, "status": "investigating", "body": "Looking.", "submit_once": token}
    return editor.post(f"/manage/{page.code}/incidents/new/", data, headers=headers, follow=True)


def test_the_same_form_sent_twice_declares_one_incident(editor, page):
    token = token_of(declare_form(editor, page))

    first = declare(editor, page, token)
    second = declare(editor, page, token)

    assert Incident.objects.filter(page=page).count() == 1
    assert "declared" in first.content.decode()
    assert "already sent; nothing was changed twice" in second.content.decode()


def test_every_rendering_of_a_form_has_its_own_token(editor, page):
    html = declare_form(editor, page)
    tokens = TOKEN.findall(html) + TOKEN.findall(declare_form(editor, page))
    assert len(tokens) == len(set(tokens)) >= 2

    declare(editor, page, tokens[0], name="First")
    declare(editor, page, tokens[-1], name="Second")

    assert sorted(Incident.objects.values_list("name", flat=True)) == ["First", "Second"]


def test_a_form_with_errors_can_be_corrected_and_sent(editor, page):
    token = token_of(declare_form(editor, page))

    refused = declare(editor, page, token, name="")
    accepted = declare(editor, page, token, name="Fixed name")

    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    assert accepted.redirect_chain, "the corrected form went through"
    assert list(Incident.objects.values_list("name", flat=True)) == ["Fixed name"]


def test_htmx_sent_twice_is_carried_out_once_too(editor, page):
    token = token_of(declare_form(editor, page))

    first = editor.post(
        f"/manage/{page.code}/incidents/new/",
        {"name": "Once", "status": "investigating", "submit_once": token},
        headers={"HX-Request": "true"},
    )
    second = editor.post(
        f"/manage/{page.code}/incidents/new/",
        {"name": "Once", "status": "investigating", "submit_once": token},
        headers={"HX-Request": "true"},
    )

    assert "HX-Redirect" in first and "HX-Redirect" in second
    assert Incident.objects.filter(page=page).count() == 1
    assert SubmittedForm.objects.filter(token=token).count() == 1
