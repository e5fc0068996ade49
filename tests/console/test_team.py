"""The team page: members and roles, invitations by email, and accepting one."""

import re
import smtplib
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from status.models import AuditLogEntry, Invitation, Membership, Role
from tests.factories import make_user

User = get_user_model()
HTMX = {"hx-request": "true"}


def team_url(page):
    return f"/manage/{page.code}/team/"


def role_url(page, membership):
    return f"/manage/{page.code}/team/members/{membership.code}/role/"


def remove_url(page, membership):
    return f"/manage/{page.code}/team/members/{membership.code}/remove/"


def invite_url(page):
    return f"/manage/{page.code}/team/invitations/"


def revoke_url(page, invitation):
    return f"/manage/{page.code}/team/invitations/{invitation.code}/revoke/"


def membership(tenant, role):
    return tenant.memberships.select_related("user").get(role=role)


def invite(client, page, email="new.person@example.com", role="editor"):
    return client.post(invite_url(page), {"email": email, "role": role})


def link_in(message):
    return re.search(r"http://testserver(/invitations/[\w-]+/)", message.body).group(1)


# Members


def test_owner_sees_members_with_role_selects_and_the_invite_form(client, tenant_a, owner_a):
    client.force_login(owner_a)
    response = client.get(team_url(tenant_a.page))
    assert response.status_code == 200
    for name in ["a-owner@example.com", "a-editor@example.com", "a-viewer@example.com"]:
        assert name in response.text
    assert 'name="role"' in response.text
    assert "Invite by email" in response.text
    assert "Remove" in response.text


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_editors_and_viewers_see_the_team_without_controls(client, tenant_a, role):
    client.force_login(membership(tenant_a, role).user)
    response = client.get(team_url(tenant_a.page))
    assert response.status_code == 200
    assert "a-owner@example.com" in response.text
    assert "Only owners change the team." in response.text
    assert "<select" not in response.text
    assert "Invite by email" not in response.text
    assert "/remove/" not in response.text


def test_owner_changes_a_role_and_it_is_audited(client, tenant_a, owner_a):
    client.force_login(owner_a)
    editor = membership(tenant_a, Role.EDITOR)
    response = client.post(role_url(tenant_a.page, editor), {"role": "viewer"}, follow=True)
    assert "a-editor@example.com is now viewer." in response.text
    editor.refresh_from_db()
    assert editor.role == "viewer"
    entry = AuditLogEntry.objects.get(action="member.role")
    assert (entry.page, entry.actor, entry.before, entry.after) == (
        tenant_a.page,
        owner_a,
        {"role": "editor"},
        {"role": "viewer"},
    )


def test_role_change_with_htmx_returns_the_row_alone(client, tenant_a, owner_a):
    client.force_login(owner_a)
    viewer = membership(tenant_a, Role.VIEWER)
    response = client.post(role_url(tenant_a.page, viewer), {"role": "editor"}, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert f'id="member-{viewer.code}"' in response.text
    assert 'value="editor" selected' in response.text


def test_an_unknown_role_is_an_inline_error_and_changes_nothing(client, tenant_a, owner_a):
    client.force_login(owner_a)
    editor = membership(tenant_a, Role.EDITOR)
    response = client.post(role_url(tenant_a.page, editor), {"role": "emperor"}, headers=HTMX)
    assert response.status_code == 200
    assert "Choose owner, editor or viewer." in response.text
    editor.refresh_from_db()
    assert editor.role == "editor"
    assert not AuditLogEntry.objects.exists()


def test_owner_removes_a_member_after_confirming(client, tenant_a, owner_a):
    client.force_login(owner_a)
    viewer = membership(tenant_a, Role.VIEWER)

    confirmation = client.get(remove_url(tenant_a.page, viewer))
    assert "Remove a-viewer@example.com?" in confirmation.text
    assert "loses access to every page of Alpha" in confirmation.text
    assert Membership.objects.filter(pk=viewer.pk).exists()

    response = client.post(remove_url(tenant_a.page, viewer), follow=True)
    assert "Removed a-viewer@example.com from Alpha." in response.text
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    assert AuditLogEntry.objects.get(action="member.remove").before == {
        "user": "a-viewer",
        "role": "viewer",
    }
    # The removed member no longer reaches the page.
    client.force_login(viewer.user)
    assert client.get(team_url(tenant_a.page)).status_code == 404


def test_removing_with_htmx_swaps_the_row_out(client, tenant_a, owner_a):
    client.force_login(owner_a)
    editor = membership(tenant_a, Role.EDITOR)
    response = client.post(remove_url(tenant_a.page, editor), headers=HTMX)
    assert response.status_code == 200
    assert response.text == ""
    assert not Membership.objects.filter(pk=editor.pk).exists()


def test_the_last_owner_cannot_be_demoted_or_removed(client, tenant_a, owner_a):
    client.force_login(owner_a)
    owner = membership(tenant_a, Role.OWNER)
    message = "Alpha needs at least one owner: make another member an owner first."

    response = client.post(role_url(tenant_a.page, owner), {"role": "editor"})
    assert response.status_code == 200
    assert message in response.text
    response = client.post(role_url(tenant_a.page, owner), {"role": "viewer"}, headers=HTMX)
    assert message in response.text
    assert message in client.get(remove_url(tenant_a.page, owner)).text
    response = client.post(remove_url(tenant_a.page, owner), headers=HTMX)
    assert message in response.text

    owner.refresh_from_db()
    assert owner.role == "owner"
    assert not AuditLogEntry.objects.exists()


def test_with_a_second_owner_an_owner_may_step_down(client, tenant_a, owner_a):
    client.force_login(owner_a)
    editor = membership(tenant_a, Role.EDITOR)
    client.post(role_url(tenant_a.page, editor), {"role": "owner"})
    own = Membership.objects.get(user=owner_a)

    response = client.post(role_url(tenant_a.page, own), {"role": "editor"}, headers=HTMX)
    assert response.headers["HX-Redirect"] == team_url(tenant_a.page)
    own.refresh_from_db()
    assert own.role == "editor"
    # Now an editor: the team page shows no controls, and changes are refused.
    assert "<select" not in client.get(team_url(tenant_a.page)).text
    assert client.post(role_url(tenant_a.page, editor), {"role": "viewer"}).status_code == 403


def test_an_owner_who_leaves_goes_to_their_page_list(client, tenant_a, owner_a):
    second = make_user("a-second-owner")
    Membership.objects.create(user=second, tenant=tenant_a, role=Role.OWNER)
    client.force_login(owner_a)
    own = Membership.objects.get(user=owner_a)
    response = client.post(remove_url(tenant_a.page, own))
    assert response.url == "/manage/"
    assert not Membership.objects.filter(pk=own.pk).exists()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_editors_and_viewers_get_403_on_every_team_change(client, tenant_a, owner_a, role):
    owner = membership(tenant_a, Role.OWNER)
    invitation, _ = Invitation.issue(tenant_a, "someone@example.com", Role.EDITOR, by=owner_a)
    client.force_login(membership(tenant_a, role).user)
    page = tenant_a.page
    attempts = [
        (role_url(page, owner), {"role": "viewer"}),
        (remove_url(page, owner), {}),
        (invite_url(page), {"email": "x@example.com", "role": "owner"}),
        (revoke_url(page, invitation), {}),
    ]
    for url, data in attempts:
        assert client.post(url, data).status_code == 403, url
    assert client.get(remove_url(page, owner)).status_code == 403
    owner.refresh_from_db()
    assert owner.role == "owner"
    assert Invitation.objects.count() == 1
    assert mail.outbox == []


# Invitations


def test_invite_accept_flow_for_a_new_user(client, tenant_a, owner_a):
    client.force_login(owner_a)
    response = invite(client, tenant_a.page, "New.Person@Example.com", "editor")
    assert response.status_code == 302
    team_page = client.get(response.url).text
    assert "Invitation sent to new.person@example.com." in team_page
    assert "new.person@example.com" in team_page

    [message] = mail.outbox
    assert message.to == ["new.person@example.com"]
    assert message.subject == "You're invited to join Alpha on Heliograph"
    assert "a-owner@example.com invites you to join Alpha on Heliograph as editor." in message.body
    link = link_in(message)
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f"http://testserver{link}" in html

    # The invitee opens the link signed out: the invitation, and how to accept it.
    client.logout()
    landing = client.get(link)
    assert landing.status_code == 200
    assert "Join Alpha" in landing.text
    assert "as <strong>editor</strong>" in landing.text
    assert f"/accounts/login/?next={link}" in landing.text
    assert f"/accounts/signup/?next={link}" in landing.text
    # Accepting signed out asks to sign in first.
    response = client.post(link)
    assert response.url == f"/accounts/login/?next={link}"

    # They create an account, come back to the link and accept.
    client.post(
        "/accounts/signup/",
        {
            "email": "new.person@example.com",
            "company": "Newco",
            "page_slug": "newco",
            "password1": "a sturdy passphrase 42",
            "password2": "a sturdy passphrase 42",
        },
    )
    # They confirm their address with the link they are sent.
    confirm = re.search(r"http://testserver(/accounts/signup/confirm/\S+)", mail.outbox[-1].body)
    client.post(confirm[1])
    assert "Accept and join Alpha" in client.get(link).text
    response = client.post(link, follow=True)
    assert response.redirect_chain[-1][0] == "/manage/"
    assert "You joined Alpha as editor." in response.text
    assert "Alpha" in response.text

    user = User.objects.get(email="new.person@example.com")
    assert Membership.objects.get(user=user, tenant=tenant_a).role == "editor"
    assert client.get(f"/manage/{tenant_a.page.code}/").status_code == 200
    entry = AuditLogEntry.objects.get(action="invitation.accept")
    assert (entry.tenant, entry.page, entry.actor) == (tenant_a, None, user)

    # The link works once.
    used = client.get(link)
    assert used.status_code == 404
    assert "This invitation has expired or was already used" in used.text


def test_an_existing_user_signs_in_through_the_link_and_accepts(
    client, tenant_a, tenant_b, owner_a
):
    outsider = make_user("someone")
    client.force_login(owner_a)
    invite(client, tenant_a.page, "Someone@Example.com", "viewer")
    link = link_in(mail.outbox[0])
    client.logout()

    # The sign-in page sends them back to the link; the invited address accepts.
    response = client.post(
        f"/accounts/login/?next={link}",
        {"username": "someone", "password": "correct horse battery", "next": link},
    )
    assert response.url == link
    client.post(link)
    assert Membership.objects.get(user=outsider, tenant=tenant_a).role == "viewer"
    assert "Alpha" in client.get("/manage/").text


def test_only_the_invited_address_can_accept(client, tenant_a, owner_a):
    """An invitation forwarded (or leaked) to another account joins nobody: accepting needs
    the account whose proved email is the invited one."""
    other = make_user("other")
    client.force_login(owner_a)
    invite(client, tenant_a.page, "invited@example.com", "editor")
    link = link_in(mail.outbox[0])
    client.force_login(other)

    shown = client.get(link)
    assert "only that address can accept it" in shown.text
    assert "Accept and join" not in shown.text
    refused = client.post(link)
    assert refused.status_code == 403
    assert "this invitation is for invited@example.com" in refused.text
    assert not Membership.objects.filter(user=other, tenant=tenant_a).exists()
    # Still open for the invited address.
    invited = make_user("invited")
    client.force_login(invited)
    client.post(link)
    assert Membership.objects.get(user=invited, tenant=tenant_a).role == "editor"


def test_an_expired_invitation_says_so_with_a_404(client, tenant_a, owner_a):
    client.force_login(owner_a)
    invite(client, tenant_a.page)
    link = link_in(mail.outbox[0])
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        for response in [client.get(link), client.post(link)]:
            assert response.status_code == 404
            assert "This invitation has expired or was already used" in response.text
        assert "Expired" in client.get(team_url(tenant_a.page)).text
    assert not Membership.objects.filter(user__email="new.person@example.com").exists()


def test_an_unknown_token_says_so_with_a_404(client, db):
    response = client.get("/invitations/not-a-real-token/")
    assert response.status_code == 404
    assert "This invitation has expired or was already used" in response.text


def test_inviting_a_member_or_a_pending_address_is_a_form_error(client, tenant_a, owner_a):
    client.force_login(owner_a)
    response = invite(client, tenant_a.page, "A-Editor@example.com")
    assert response.status_code == 200
    assert "a-editor@example.com is already a member of Alpha." in response.text

    invite(client, tenant_a.page, "new.person@example.com")
    response = invite(client, tenant_a.page, "new.person@example.com")
    assert "already has a pending invitation" in response.text
    assert Invitation.objects.count() == 1
    assert len(mail.outbox) == 1


def test_a_bad_invitation_with_htmx_swaps_the_form_back_with_errors(client, tenant_a, owner_a):
    client.force_login(owner_a)
    response = client.post(
        invite_url(tenant_a.page), {"email": "not an address", "role": "king"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="invitations"' in response.text
    assert "Enter a valid email address." in response.text
    assert "Select a valid choice." in response.text
    assert not Invitation.objects.exists()


def test_an_invitation_that_cannot_be_emailed_is_not_kept(client, tenant_a, owner_a):
    client.force_login(owner_a)
    with mock.patch("status.team.send_mail", side_effect=smtplib.SMTPException("down")):
        response = invite(client, tenant_a.page)
    assert response.status_code == 200
    assert "The invitation email could not be sent." in response.text
    assert not Invitation.objects.exists()
    assert not AuditLogEntry.objects.exists()


def test_owner_revokes_an_invitation_and_its_link_stops_working(client, tenant_a, owner_a):
    client.force_login(owner_a)
    invite(client, tenant_a.page)
    link = link_in(mail.outbox[0])
    invitation = Invitation.objects.get()

    response = client.post(revoke_url(tenant_a.page, invitation), headers=HTMX)
    assert "Revoked the invitation to new.person@example.com." in response.text
    assert "No pending invitations." in response.text
    assert client.get(link).status_code == 404
    assert AuditLogEntry.objects.get(action="invitation.revoke").before["email"] == (
        "new.person@example.com"
    )


# Another tenant


def test_another_tenants_owner_gets_404_everywhere_and_changes_nothing(
    client, tenant_a, tenant_b, owner_a, owner_b
):
    invitation, token = Invitation.issue(tenant_a, "pending@example.com", Role.EDITOR, by=owner_a)
    editor = membership(tenant_a, Role.EDITOR)
    client.force_login(owner_b)
    for page in [tenant_a.page, tenant_b.page]:
        assert client.get(team_url(tenant_a.page)).status_code == 404
        requests = [
            ("post", role_url(page, editor), {"role": "viewer"}),
            ("get", remove_url(page, editor), {}),
            ("post", remove_url(page, editor), {}),
            ("post", revoke_url(page, invitation), {}),
        ]
        for method, url, data in requests:
            assert getattr(client, method)(url, data).status_code == 404, (method, url)
    assert invite(client, tenant_a.page).status_code == 404

    editor.refresh_from_db()
    assert editor.role == "editor"
    assert Invitation.objects.get().pk == invitation.pk
    assert Invitation.find(token) is not None
    assert tenant_a.memberships.count() == 3
    assert not AuditLogEntry.objects.exists()
    assert mail.outbox == []
    # B's own team page lists only B.
    page_b = client.get(team_url(tenant_b.page)).text
    assert "b-owner" in page_b
    assert "a-owner" not in page_b
    assert "pending@example.com" not in page_b


def test_signed_out_visitors_are_sent_to_sign_in(client, tenant_a):
    response = client.get(team_url(tenant_a.page))
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
