import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils import timezone

from status.models import Page


@pytest.fixture
def base_domain(settings):
    settings.PUBLIC_BASE_DOMAIN = "status.test"


def test_page_is_served_under_p_slug_on_the_main_site(client, tenant_a, tenant_b):
    response = client.get("/p/alpha/")
    assert response.status_code == 200
    assert "Alpha" in response.text
    assert "Bravo" not in response.text
    assert "API" in response.text and "Operational" in response.text


def test_custom_domain_serves_its_page_at_the_root(client, tenant_a, tenant_b):
    response = client.get("/", headers={"host": "status.alpha.example"})
    assert response.status_code == 200
    assert "<title>Alpha Status</title>" in response.text


def test_custom_domain_with_port_and_upper_case_is_recognised(client, tenant_a):
    response = client.get("/", headers={"host": "STATUS.Alpha.Example:8443"})
    assert response.status_code == 200
    assert "Alpha" in response.text


def test_subdomain_of_the_public_base_domain_serves_the_page(client, base_domain, tenant_b):
    response = client.get("/", headers={"host": "bravo.status.test"})
    assert response.status_code == 200
    assert "<title>Bravo Status</title>" in response.text


def test_unknown_host_gets_a_plain_404(client, base_domain, tenant_a):
    for host in ["evil.example", "nobody.status.test", "a.b.status.test", "status.test"]:
        response = client.get("/", headers={"host": host})
        assert response.status_code == 404, host
        assert "There is no status page at this address." in response.text
        assert "Alpha" not in response.text


def test_unknown_slug_is_404(client, tenant_a):
    assert client.get("/p/nope/").status_code == 404


def test_page_host_serves_only_public_urls(client, tenant_a, owner_a):
    client.force_login(owner_a)
    for path in ["/manage/", "/admin/", "/accounts/login/", "/p/alpha/"]:
        response = client.get(path, headers={"host": "status.alpha.example"})
        assert response.status_code == 404, path


def test_changing_a_custom_domain_moves_the_page_at_once(client, tenant_a):
    assert client.get("/", headers={"host": "status.alpha.example"}).status_code == 200
    page = tenant_a.page
    page.custom_domain = "Status.Alpha.Example.NET."
    page.save()
    assert Page.objects.get(pk=page.pk).custom_domain == "status.alpha.example.net"
    assert client.get("/", headers={"host": "status.alpha.example"}).status_code == 404
    # A new domain serves once it is proved (tests/status/test_domains.py), and then at once.
    assert client.get("/", headers={"host": "status.alpha.example.net"}).status_code == 404
    page.domain_verified_at = timezone.now()
    page.save()
    assert client.get("/", headers={"host": "status.alpha.example.net"}).status_code == 200


def test_public_url_prefers_custom_domain_then_subdomain(settings, tenant_a, tenant_b):
    settings.SITE_URL = "https://heliograph.test"
    assert tenant_a.page.public_url() == "https://status.alpha.example/"
    assert (
        tenant_b.page.public_url("incidents/x/") == "https://heliograph.test/p/bravo/incidents/x/"
    )
    settings.PUBLIC_BASE_DOMAIN = "status.test"
    assert tenant_b.page.public_url() == "https://bravo.status.test/"


def test_health_check_answers_on_the_main_site(client, db):
    response = client.get("/healthz")
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "host",
    ["testserver", "status.alpha.example", "bravo.status.test"],
    ids=["main", "domain", "sub"],
)
def test_favicon_ico_answers_on_the_main_site_and_on_page_hosts(
    client, base_domain, tenant_a, tenant_b, host
):
    response = client.get("/favicon.ico", headers={"host": host})
    assert response.status_code == 302
    assert response["Location"] == static("favicon.svg")
    assert finders.find("favicon.svg")
    assert "public" in response["Cache-Control"]
    assert client.head("/favicon.ico", headers={"host": host}).status_code == 302
    assert client.post("/favicon.ico", headers={"host": host}).status_code == 405


def test_favicon_ico_of_an_unknown_host_is_404(client, base_domain, tenant_a):
    assert client.get("/favicon.ico", headers={"host": "nobody.status.test"}).status_code == 404
