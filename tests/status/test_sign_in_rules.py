"""A tenant's sign-in rules (single sign-on's reach, required two-factor authentication) hold
on every way to its pages, not only the console's page routes: its draft and private public
pages, the list of pages and the creation of one (status/access.py meets_sign_in_rules and
usable_tenants), and the language switcher of a page an outsider may not see."""

import pytest

from status import access, pagecache
from status.models import Membership, Page, Role, Tenant
from tests.factories import make_page

pytestmark = pytest.mark.django_db


def through_sso_of(client, tenant):
    session = client.session
    session[access.SSO_SESSION_KEY] = tenant.pk
    session.save()


@pytest.fixture
def both(tenant_a, tenant_b, owner_b):
    """Bravo's owner, also a member of Alpha; Bravo has a draft page."""
    Membership.objects.create(user=owner_b, tenant=tenant_a, role=Role.VIEWER)
    draft = make_page(tenant_b, "bravo-draft", visibility="draft")
    return owner_b, draft


def test_a_session_from_another_tenants_sso_sees_nothing_of_this_tenant(client, both, tenant_b):
    user, draft = both
    client.force_login(user)
    assert client.get(f"/p/{draft.slug}/").status_code == 200  # a password session: a member
    through_sso_of(client, Tenant.objects.get(slug="alpha"))

    assert client.get(f"/p/{draft.slug}/").status_code == 404
    home = client.get("/manage/").content.decode()
    assert tenant_b.page.name not in home and draft.name not in home
    created = client.post("/manage/", {"tenant": "bravo", "name": "Sneaky", "slug": "sneaky"})
    assert created.status_code in (200, 403)
    assert not Page.objects.filter(slug="sneaky").exists()


def test_a_tenant_that_requires_two_factor_hides_its_drafts_from_password_only_sessions(
    client, both, tenant_b
):
    user, draft = both
    tenant_b.require_two_factor = True
    tenant_b.save()
    client.force_login(user)
    assert client.get(f"/p/{draft.slug}/").status_code == 404
    assert draft.name not in client.get("/manage/").content.decode()


def test_the_language_switcher_of_a_draft_answers_404_to_outsiders(client, tenant_b):
    draft = make_page(tenant_b, "bravo-hidden", visibility="draft")
    response = client.get(f"/p/{draft.slug}/language/?lang=xx")
    assert response.status_code == 404
    assert "offered" not in response.content.decode()


def test_with_the_database_down_the_shared_visibility_wins(tenant_b):
    page = tenant_b.page
    # This process last saw the page public; another one made it private since.
    pagecache.remember_visibility(page.pk, "public")
    pagecache.cache.set(pagecache.visibility_key(page.pk), "private", 60)
    assert not pagecache.known_public(page.pk)
