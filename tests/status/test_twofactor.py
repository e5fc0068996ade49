"""Two-factor authentication: setting up an authenticator app (QR code, key, a code to confirm,
recovery codes shown once), signing in with a code after the password, recovery codes that work
once, a tenant that requires it of its members, and the platform admin that requires it of
staff when DEBUG is off."""

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from status import twofactor
from tests.factories import PASSWORD, make_user


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


def code_of(device):
    """What the authenticator app shows now, computed from the device's key."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def enrol(user):
    """`user` with a confirmed authenticator: (device, recovery codes)."""
    device = twofactor.start_enrolment(user)
    codes = twofactor.confirm_enrolment(device, code_of(device))
    device.refresh_from_db()
    return device, codes


def sign_in(client, username, password=PASSWORD, next_url=""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data, REMOTE_ADDR="203.0.113.7")


def signed_in(client):
    return "_auth_user_id" in client.session


def text(response):
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_setting_up_shows_a_qr_code_and_key_and_confirms_with_a_code(client, owner_a, clock):
    client.force_login(owner_a)
    assert "Off." in text(client.get("/accounts/two-factor/"))

    response = client.post("/accounts/two-factor/", {"action": "start"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/two-factor/setup/"
    page = text(client.get("/accounts/two-factor/setup/"))
    device = TOTPDevice.objects.get(user=owner_a)
    assert not device.confirmed
    assert "<svg" in page
    secret = re.search(r'id="two-factor-secret">([A-Z2-7]+)<', page)[1]
    assert secret == twofactor.secret_of(device)
    assert "otpauth://totp/" in page

    wrong = client.post("/accounts/two-factor/setup/", {"code": "000000"})
    assert wrong.status_code == 400
    assert "That code is not right" in text(wrong)
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    # django-otp makes the next try wait a second after a wrong code, and says so.
    too_soon = client.post("/accounts/two-factor/setup/", {"code": code_of(device)})
    assert "Too many wrong codes for now: wait 1 second" in text(too_soon)

    clock.shift(2)
    response = client.post("/accounts/two-factor/setup/", {"code": code_of(device)})
    assert response.status_code == 200
    page = text(response)
    assert "Two-factor authentication is on" in page
    assert "They are shown only now" in page
    shown = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
    assert len(shown) == 10
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert "10 unused recovery codes" in text(client.get("/accounts/two-factor/"))


def test_a_password_alone_does_not_sign_in_someone_with_two_factor(client, owner_a, clock):
    device, _ = enrol(owner_a)
    clock.shift(31)

    response = sign_in(client, owner_a.username, next_url="/manage/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/two-factor/verify/"
    assert not signed_in(client)
    assert client.get("/manage/").status_code == 302  # to the sign-in

    wrong = client.post("/accounts/two-factor/verify/", {"code": "123456"})
    assert wrong.status_code == 400
    assert "That code is not right" in text(wrong)
    assert not signed_in(client)

    clock.shift(5)  # django-otp waits a second after a failure before the next try
    response = client.post("/accounts/two-factor/verify/", {"code": code_of(device)})
    assert response.status_code == 302
    assert response["Location"] == "/manage/"
    assert signed_in(client)
    assert client.get("/manage/").status_code == 200


def test_a_recovery_code_signs_in_once(client, owner_a, clock):
    _, codes = enrol(owner_a)
    sign_in(client, owner_a.username)
    response = client.post("/accounts/two-factor/verify/", {"code": codes[0]}, follow=True)
    assert signed_in(client)
    assert "You used a recovery code; 9 left" in text(response)

    client.post("/accounts/logout/")
    clock.shift(5)
    sign_in(client, owner_a.username)
    again = client.post("/accounts/two-factor/verify/", {"code": codes[0]})
    assert again.status_code == 400
    assert not signed_in(client)


def test_a_code_cannot_be_used_twice(client, owner_a, clock):
    device, _ = enrol(owner_a)
    clock.shift(31)
    code = code_of(device)
    sign_in(client, owner_a.username)
    client.post("/accounts/two-factor/verify/", {"code": code})
    assert signed_in(client)
    client.post("/accounts/logout/")

    clock.shift(2)
    sign_in(client, owner_a.username)
    assert client.post("/accounts/two-factor/verify/", {"code": code}).status_code == 400
    assert not signed_in(client)


def test_a_password_too_long_ago_or_too_many_wrong_codes_start_over(client, owner_a, clock):
    device, _ = enrol(owner_a)
    sign_in(client, owner_a.username)
    clock.shift(timedelta(minutes=11))
    response = client.post("/accounts/two-factor/verify/", {"code": code_of(device)}, follow=True)
    assert "Sign in again" in text(response)
    assert not signed_in(client)

    sign_in(client, owner_a.username)
    for _ in range(5):
        clock.shift(60)
        response = client.post("/accounts/two-factor/verify/", {"code": "999999"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    clock.shift(60)
    response = client.post("/accounts/two-factor/verify/", {"code": code_of(device)})
    assert response["Location"] == "/accounts/login/"
    assert not signed_in(client)


def test_turning_it_off_needs_a_code(client, owner_a, clock):
    device, _ = enrol(owner_a)
    clock.shift(31)
    sign_in(client, owner_a.username)
    client.post("/accounts/two-factor/verify/", {"code": code_of(device)})

    clock.shift(31)
    refused = client.post("/accounts/two-factor/", {"action": "off", "code": "000000"})
    assert refused.status_code == 400
    assert twofactor.has_two_factor(owner_a)

    clock.shift(31)
    response = client.post("/accounts/two-factor/", {"action": "off", "code": code_of(device)})
    assert response.status_code == 302
    assert not twofactor.has_two_factor(owner_a)
    assert "Off." in text(client.get("/accounts/two-factor/"))


def test_new_recovery_codes_replace_the_old(client, owner_a, clock):
    device, old = enrol(owner_a)
    clock.shift(31)
    sign_in(client, owner_a.username)
    client.post("/accounts/two-factor/verify/", {"code": code_of(device)})
    response = client.post("/accounts/two-factor/", {"action": "codes"})
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
    assert len(new) == 10
    assert twofactor.verify(owner_a, old[0]) is None
    clock.shift(5)  # past the wait a wrong code earns
    assert twofactor.verify(owner_a, new[0]) is not None


# A tenant that requires two-factor


def test_an_owner_cannot_require_two_factor_before_having_it(client, owner_a, tenant_a):
    client.force_login(owner_a)
    url = f"/manage/{tenant_a.page.code}/security/"
    response = client.post(url, {"require_two_factor": "on", "default_role": "viewer"})
    assert response.status_code == 400
    assert "Set up two-factor authentication for yourself first" in text(response)
    tenant_a.refresh_from_db()
    assert not tenant_a.require_two_factor


def test_members_without_two_factor_are_sent_to_set_it_up(client, owner_a, editor_a, tenant_a,
                                                          clock):  # fmt: skip
    device, _ = enrol(owner_a)
    clock.shift(31)
    sign_in(client, owner_a.username)
    client.post("/accounts/two-factor/verify/", {"code": code_of(device)})
    url = f"/manage/{tenant_a.page.code}/security/"
    response = client.post(url, {"require_two_factor": "on", "default_role": "viewer"})
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.require_two_factor
    # The owner, signed in with a code, goes on as before.
    assert client.get(f"/manage/{tenant_a.page.code}/").status_code == 200

    client.post("/accounts/logout/")
    sign_in(client, editor_a.username)
    overview = f"/manage/{tenant_a.page.code}/"
    response = client.get(overview)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/two-factor/?next={overview.replace('/', '%2F')}"
    page = text(client.get(response["Location"]))
    assert "Alpha requires two-factor authentication" in page
    assert "Alpha requires it of its members" in page
    # The list of pages is not a page of the tenant: it still opens.
    assert client.get("/manage/").status_code == 200

    client.post("/accounts/two-factor/", {"action": "start", "next": overview})
    editor_device = TOTPDevice.objects.get(user=editor_a)
    response = client.post(
        "/accounts/two-factor/setup/", {"code": code_of(editor_device), "next": overview}
    )
    assert f'href="{overview}"' in response.content.decode()
    assert client.get(overview).status_code == 200
    # It stays on while the tenant requires it.
    clock.shift(31)
    refused = client.post(
        "/accounts/two-factor/", {"action": "off", "code": code_of(editor_device)}
    )
    assert "requires two-factor authentication of its members" in text(refused)
    assert twofactor.has_two_factor(editor_a)


def test_a_member_with_two_factor_but_a_session_without_it_is_asked_for_a_code(
    client, editor_a, tenant_a, clock
):
    device, _ = enrol(editor_a)
    tenant_a.require_two_factor = True
    tenant_a.save()
    client.force_login(editor_a)  # a session from before the tenant required it
    overview = f"/manage/{tenant_a.page.code}/"
    response = client.get(overview)
    assert response["Location"].startswith("/accounts/two-factor/verify/?next=")
    clock.shift(31)
    response = client.post(response["Location"], {"code": code_of(device)})
    assert response["Location"] == overview
    assert client.get(overview).status_code == 200


def test_the_requirement_tells_outsiders_nothing(client, owner_b, tenant_a):
    tenant_a.require_two_factor = True
    tenant_a.save()
    client.force_login(owner_b)
    assert client.get(f"/manage/{tenant_a.page.code}/").status_code == 404
    # Their own tenant does not require it.
    assert client.get(f"/manage/{owner_b.tenants.get().pages.get().code}/").status_code == 200


# The platform admin


@pytest.fixture
def staff(db):
    user = make_user("operator")
    user.is_staff = True
    user.is_superuser = True
    user.save()
    return user


def test_the_admin_requires_two_factor_of_staff_when_debug_is_off(client, staff, settings,
                                                                 clock):  # fmt: skip
    settings.ADMIN_REQUIRES_TWO_FACTOR = True
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/two-factor/?next=%2Fadmin%2F"

    device, _ = enrol(staff)
    response = client.get("/admin/")
    assert response["Location"] == "/accounts/two-factor/verify/?next=%2Fadmin%2F"
    clock.shift(31)
    client.post("/accounts/two-factor/verify/", {"code": code_of(device)})
    assert client.get("/admin/").status_code == 200


def test_with_debug_on_the_admin_takes_a_password(client, staff, settings):
    settings.ADMIN_REQUIRES_TWO_FACTOR = False
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


def test_the_admins_sign_in_form_does_not_skip_the_second_factor(client, staff, tenant_a,
                                                                 settings, clock):  # fmt: skip
    settings.ADMIN_REQUIRES_TWO_FACTOR = False  # even so
    device, _ = enrol(staff)
    tenant_a.memberships.create(user=staff, role="owner")
    clock.shift(31)
    response = client.post(
        "/admin/login/", {"username": "operator", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    for path in ["/admin/", "/manage/", f"/manage/{tenant_a.page.code}/", "/accounts/sessions/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/two-factor/verify/?next="), path
    response = client.post(response["Location"], {"code": code_of(device)})
    assert response["Location"] == "/accounts/sessions/"
    assert client.get(f"/manage/{tenant_a.page.code}/").status_code == 200
    assert client.get("/admin/").status_code == 200


def test_staff_may_remove_a_persons_authenticator_but_never_read_its_key(client, staff,
                                                                        owner_a):  # fmt: skip
    device, _ = enrol(owner_a)
    client.force_login(staff)
    change = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert change.status_code == 200
    assert device.key not in change.content.decode()
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code == 403
    response = client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not twofactor.has_two_factor(owner_a)
