import re

from django.core import mail


def test_login_and_logout(client, tenant_a, owner_a):
    response = client.post(
        "/accounts/login/", {"username": "a-owner", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert response.url == "/manage/"
    assert "Alpha" in client.get("/manage/").text
    client.post("/accounts/logout/")
    assert client.get("/manage/").status_code == 302


def test_wrong_password_is_a_form_error(client, owner_a):
    response = client.post("/accounts/login/", {"username": "a-owner", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text


def test_password_reset_sends_a_working_link(client, owner_a):
    response = client.post("/accounts/password/reset/", {"email": "a-owner@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    form = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form.text
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a brand new phrase 7", "new_password2": "a brand new phrase 7"},
    )
    assert done.status_code == 302
    assert client.login(username="a-owner", password="a brand new phrase 7")


def test_password_reset_for_an_unknown_email_looks_the_same(client, db):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 0
