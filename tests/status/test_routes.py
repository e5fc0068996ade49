"""Every route says who may reach it; a new route with no say fails here."""

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

# "api": the management API, reached with a tenant's API key (config/urls_api.py, status/api.py).
ACCESS = {"public", "tenant", "platform", "api"}
# The API routes that are not about one page: the key's list of pages, the schema and its docs.
API_OUTSIDE_A_PAGE = {"api/v1/pages", "api/v1/schema/", "api/v1/docs/"}


def walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def access_of(route, callback):
    if route.startswith("admin/"):
        # The Django admin checks is_staff itself, for platform operators only.
        return "platform"
    return getattr(callback, "access", None)


def all_routes():
    for urlconf in [settings.ROOT_URLCONF, settings.PAGE_HOST_URLCONF]:
        yield from walk(get_resolver(urlconf).url_patterns)


def test_every_route_is_classified():
    unclassified = [
        route for route, callback in all_routes() if access_of(route, callback) not in ACCESS
    ]
    assert unclassified == []


def test_the_walk_sees_the_routes_we_know():
    routes = {route: access_of(route, callback) for route, callback in all_routes()}
    assert routes["p/<slug:page_slug>/"] == "public"
    assert routes["manage/<str:page_code>/"] == "tenant"
    assert routes["accounts/login/"] == "public"
    assert routes["favicon.ico"] == "public"
    assert any(access == "platform" for access in routes.values())


# The organisation's own console routes: the page list, and the import wizard (an import
# creates or updates a page, so it is not under one).
TENANT_OUTSIDE_A_PAGE = {"manage/", "manage/import/", "manage/import/<str:code>/"}


def test_every_tenant_route_outside_the_page_list_takes_a_page_code():
    for route, callback in all_routes():
        if access_of(route, callback) == "tenant" and route not in TENANT_OUTSIDE_A_PAGE:
            assert "<str:page_code>" in route, route


def test_every_api_route_is_under_api_v1_and_takes_a_page_code():
    api_routes = [route for route, callback in all_routes() if access_of(route, callback) == "api"]
    assert "api/v1/pages/<str:page_code>/incidents" in api_routes
    for route in api_routes:
        assert route.startswith("api/v1/"), route
        if route not in API_OUTSIDE_A_PAGE:
            assert route.startswith("api/v1/pages/<str:page_code>"), route


def test_every_route_under_api_v1_is_an_api_route_except_its_schema_and_docs():
    for route, callback in all_routes():
        if route.startswith("api/v1/"):
            expected = "public" if route in ("api/v1/schema/", "api/v1/docs/") else "api"
            assert access_of(route, callback) == expected, route
