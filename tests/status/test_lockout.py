"""Sign-in lockout: repeated failures lock out the account and the address for a while, on the
console's sign-in and the admin's alike; the right password does not get through meanwhile."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import PASSWORD, make_user

WRONG = "not the password"


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


def sign_in(client, username, password, path="/accounts/login/", ip="203.0.113.7"):
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=ip, follow=False
    )


def signed_in(client):
    return "_auth_user_id" in client.session


def test_forty_wrong_passwords_then_the_right_one_does_not_sign_in(client, db, clock):
    make_user("target")
    for _ in range(40):
        sign_in(client, "target", WRONG)

    response = sign_in(client, "target", PASSWORD)

    assert response.status_code == 429
    assert "Sign-in paused" in response.content.decode()
    assert not signed_in(client)


def test_the_lockout_ends_after_its_time(client, db, clock, settings):
    make_user("target")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "target", WRONG)
    assert sign_in(client, "target", PASSWORD).status_code == 429

    clock.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))

    assert sign_in(client, "target", PASSWORD).status_code == 302
    assert signed_in(client)


def test_an_account_is_locked_whatever_address_the_guesses_come_from(client, db, clock, settings):
    make_user("target")
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "target", WRONG, ip=f"198.51.100.{n + 1}")

    assert sign_in(client, "target", PASSWORD, ip="192.0.2.50").status_code == 429


def test_an_address_guessing_many_accounts_is_locked(client, db, clock, settings):
    make_user("someone")
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"guess{n}", WRONG)

    assert sign_in(client, "someone", PASSWORD).status_code == 429
    # Another address is not affected.
    assert sign_in(client, "someone", PASSWORD, ip="192.0.2.80").status_code == 302


def test_a_few_mistakes_are_forgiven_by_a_success(client, db, clock, settings):
    make_user("target")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "target", WRONG)
    assert sign_in(client, "target", PASSWORD).status_code == 302
    client.logout()

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "target", WRONG)
    assert sign_in(client, "target", PASSWORD).status_code == 302


def test_the_admin_sign_in_is_locked_too(client, db, clock, settings):
    staff = make_user("operator")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "operator", WRONG, path="/admin/login/")

    response = sign_in(client, "operator", PASSWORD, path="/admin/login/")

    assert response.status_code == 429
    assert not signed_in(client)
