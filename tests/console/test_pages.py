"""/manage/: the user's pages across their teams, and creating a page."""

import pytest
from django.urls import reverse

from status.models import AuditLogEntry, Membership, Page, Role, Tenant
from tests.factories import make_page

HTMX = {"HX-Request": "true"}
HOME = "/manage/"


def pages():
    return sorted(Page.objects.values_list("slug", flat=True))


@pytest.fixture
def second_team(owner_a):
    """A second tenant where A's owner is only an editor."""
    tenant = Tenant.objects.create(name="Charlie", slug="charlie")
    Membership.objects.create(user=owner_a, tenant=tenant, role=Role.EDITOR)
    make_page(tenant, "charlie")
    return tenant


def test_the_list_shows_the_users_pages_across_their_teams(
    client, tenant_a, tenant_b, second_team, owner_a
):
    client.force_login(owner_a)
    html = client.get(HOME).text
    assert "Alpha" in html and "Charlie" in html
    assert "Bravo" not in html
    assert reverse("manage:page", kwargs={"page_code": tenant_a.page.code}) in html


def test_owner_creates_a_page_and_lands_on_its_components(client, tenant_a, owner_a):
    client.force_login(owner_a)
    html = client.get(HOME).text
    assert "Create a page" in html
    assert 'type="hidden" name="tenant" value="alpha"' in html  # one team: nothing to choose

    response = client.post(HOME, {"tenant": "alpha", "name": "Alpha Europe", "slug": "alpha-eu"})
    page = Page.objects.get(slug="alpha-eu")
    assert page.tenant == tenant_a and page.name == "Alpha Europe"
    assert response.status_code == 302
    assert response.url == reverse("manage:components", kwargs={"page_code": page.code})
    assert "Alpha Europe is created" in client.get(response.url).text
    assert "Alpha Europe" in client.get(HOME).text
    assert client.get("/p/alpha-eu/").status_code == 200

    entry = AuditLogEntry.objects.get(action="page.create")
    assert (entry.actor, entry.page, entry.object_code) == (owner_a, page, page.code)
    assert entry.after["slug"] == "alpha-eu" and entry.before is None


def test_with_htmx_a_created_page_redirects_the_browser(client, tenant_a, owner_a):
    client.force_login(owner_a)
    response = client.post(HOME, {"name": "Alpha Labs", "slug": "alpha-labs"}, headers=HTMX)
    page = Page.objects.get(slug="alpha-labs")
    assert page.tenant == tenant_a
    assert response["HX-Redirect"] == reverse("manage:components", kwargs={"page_code": page.code})


def test_an_owner_of_several_teams_chooses_among_those_they_own(
    client, tenant_a, second_team, owner_a
):
    Tenant.objects.create(name="Delta", slug="delta").memberships.create(
        user=owner_a, role=Role.OWNER
    )
    client.force_login(owner_a)
    html = client.get(HOME).text
    assert '<option value="alpha">Alpha</option>' in html
    assert '<option value="delta">Delta</option>' in html
    assert 'value="charlie"' not in html  # only an editor there

    response = client.post(HOME, {"tenant": "charlie", "name": "Charlie 2", "slug": "charlie-2"})
    assert "Select a valid choice" in response.text
    assert "charlie-2" not in pages()
    client.post(HOME, {"tenant": "delta", "name": "Delta", "slug": "delta"})
    assert Page.objects.get(slug="delta").tenant.slug == "delta"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "", "slug": "fresh"}, "This field is required."),
        ({"name": "Taken", "slug": "bravo"}, "This address is taken; choose another."),
        ({"name": "Reserved", "slug": "admin"}, "&#x27;admin&#x27; is reserved"),
        ({"name": "Bad", "slug": "-bad-"}, "Use 1 to 50 lowercase letters"),
    ],
)
def test_a_bad_page_is_refused_inline_and_nothing_is_saved(
    client, tenant_a, tenant_b, owner_a, data, error
):
    client.force_login(owner_a)
    before = pages()
    response = client.post(HOME, {"tenant": "alpha", **data})
    assert response.status_code == 200
    assert error in response.text
    assert "<html" in response.text
    fragment = client.post(HOME, {"tenant": "alpha", **data}, headers=HTMX)
    assert error in fragment.text
    assert "<html" not in fragment.text
    assert pages() == before
    assert not AuditLogEntry.objects.exists()


def test_an_owner_cannot_create_a_page_in_another_tenant(client, tenant_a, tenant_b, owner_a):
    client.force_login(owner_a)
    client.post(HOME, {"tenant": "bravo", "name": "Bravo 2", "slug": "bravo-2"})
    assert not tenant_b.pages.filter(slug="bravo-2").exists()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_only_owners_create_pages(client, tenant_a, role):
    client.force_login(tenant_a.memberships.get(role=role).user)
    assert "Create a page" not in client.get(HOME).text
    response = client.post(HOME, {"tenant": "alpha", "name": "Sneaky", "slug": "sneaky"})
    assert response.status_code == 403
    assert "sneaky" not in pages()
