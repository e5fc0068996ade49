"""The link in a password-reset email is built on settings.SITE_URL, never on the Host of the
request that asked for it: a Host that passes SITE_HOSTS with another port (or scheme) must not
send the owner's reset token anywhere else."""

import re

from django.core import mail


def reset_link(client, **headers):
    response = client.post("/accounts/password/reset/", {"email": "a-owner@example.com"}, **headers)
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"\S+/accounts/password/reset/\S+/", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    return link.group(0)


def test_a_reset_asked_for_on_another_port_links_to_the_site(client, owner_a, settings):
    link = reset_link(client, HTTP_HOST="testserver:8443")
    assert link.startswith(settings.SITE_URL + "/accounts/password/reset/")


def test_the_link_takes_its_scheme_and_port_from_the_site_url(client, owner_a, settings):
    settings.SITE_URL = "https://testserver:8000"
    link = reset_link(client, HTTP_HOST="testserver")
    assert link.startswith("https://testserver:8000/accounts/password/reset/")


def test_the_link_from_the_site_url_works(client, owner_a):
    link = reset_link(client, HTTP_HOST="testserver:8443")
    form = client.get(link.removeprefix("http://testserver"), follow=True)
    assert "Choose a new password" in form.text
