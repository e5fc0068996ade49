"""The sessions page: every browser signed in to one's account, with where and when; signing out
one of them or every one but this; and a member removed from a tenant signed out everywhere."""

import html
import re

import pytest
from django.test import Client

from status.models import UserSession
from tests.factories import PASSWORD


def browser(username, agent, ip):
    """A new browser, signed in through the sign-in form."""
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def text(response):
    """What the page says, without its markup."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def signed_in(client):
    """Whether the browser still reaches the console (not sent to the sign-in page)."""
    return client.get("/manage/").status_code == 200


@pytest.fixture
def laptop(owner_a):
    return browser(owner_a.username, "Firefox on the laptop", "198.51.100.4")


@pytest.fixture
def phone(owner_a):
    return browser(owner_a.username, "Safari on the phone", "203.0.113.9")


def test_the_page_lists_each_signed_in_browser(laptop, phone):
    response = laptop.get("/accounts/sessions/")
    page = text(response)
    assert "Firefox on the laptop (this browser)" in page
    assert "Safari on the phone" in page
    assert "Safari on the phone (this browser)" not in page
    assert "198.51.100.4" in page
    assert "203.0.113.9" in page
    assert response.content.decode().count("<td>Password</td>") == 2


def test_sign_out_everywhere_else_keeps_only_this_browser(laptop, phone, owner_a):
    response = laptop.post("/accounts/sessions/", follow=True)
    assert "Signed out everywhere else." in text(response)

    assert signed_in(laptop)
    assert not signed_in(phone)
    page = text(laptop.get("/accounts/sessions/"))
    assert "Safari on the phone" not in page
    assert UserSession.objects.filter(user=owner_a).count() == 1


def test_one_session_can_be_signed_out(laptop, phone, owner_a):
    other = UserSession.objects.get(user=owner_a, user_agent="Safari on the phone")
    response = laptop.post(f"/accounts/sessions/{other.code}/end/", follow=True)
    assert "That session is signed out." in text(response)
    assert not signed_in(phone)
    assert signed_in(laptop)


def test_another_persons_session_is_not_found(laptop, editor_a):
    theirs = browser(editor_a.username, "Edge", "192.0.2.1")
    theirs.get("/manage/")
    row = UserSession.objects.get(user=editor_a)
    assert laptop.post(f"/accounts/sessions/{row.code}/end/").status_code == 404
    assert signed_in(theirs)


def test_a_signed_out_browser_leaves_the_list(laptop, phone):
    phone.post("/accounts/logout/")
    assert "Safari on the phone" not in text(laptop.get("/accounts/sessions/"))


def test_the_page_needs_a_signed_in_person(client, db):
    response = client.get("/accounts/sessions/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.post("/accounts/sessions/").status_code == 302


def test_a_removed_member_is_signed_out_everywhere(laptop, editor_a, tenant_a):
    desk = browser(editor_a.username, "Chrome at the desk", "192.0.2.10")
    sofa = browser(editor_a.username, "Chrome on the sofa", "192.0.2.11")
    assert signed_in(desk) and signed_in(sofa)
    member = tenant_a.memberships.get(user=editor_a)

    response = laptop.post(f"/manage/{tenant_a.page.code}/team/members/{member.code}/remove/")
    assert response.status_code == 302

    assert not signed_in(desk)
    assert not signed_in(sofa)
    assert signed_in(laptop)
    assert not UserSession.objects.filter(user=editor_a).exists()


def test_a_member_leaving_keeps_the_session_they_leave_from(editor_a, tenant_a):
    desk = browser(editor_a.username, "Chrome at the desk", "192.0.2.10")
    sofa = browser(editor_a.username, "Chrome on the sofa", "192.0.2.11")
    sofa.get("/manage/")
    member = tenant_a.memberships.get(user=editor_a)
    tenant_a.memberships.filter(user=editor_a).update(role="owner")

    desk.post(f"/manage/{tenant_a.page.code}/team/members/{member.code}/remove/")

    assert signed_in(desk)
    assert not signed_in(sofa)
