"""The public page's language switcher in a browser: a visitor switches to Spanish, the choice
is remembered on the next pages, and the whole-response cache never hands one visitor's
language to another (status/languages.py, status/pagecache.py)."""

from django.conf import settings
from playwright.sync_api import expect


def test_switching_language_is_remembered_and_the_cache_keeps_languages_apart(
    tab, browser, live_server, tenant_a
):
    tab.goto("/p/alpha/")
    expect(tab.locator("html")).to_have_attribute("lang", "en")
    expect(tab.locator(".banner")).to_have_text("All systems operational")

    tab.locator("nav.languages").get_by_role("link", name="Español").click()
    tab.wait_for_url("**/p/alpha/")
    expect(tab.locator("html")).to_have_attribute("lang", "es")
    expect(tab.locator(".banner")).to_have_text("Todos los sistemas operativos")
    cookies = {cookie["name"]: cookie["value"] for cookie in tab.context.cookies()}
    assert cookies[settings.LANGUAGE_COOKIE_NAME] == "es"

    # The next page is in Spanish too: the cookie is honoured, whatever the browser asks for.
    tab.get_by_role("link", name="Historial", exact=True).click()
    expect(tab.locator("h1")).to_have_text("Historial de incidentes")
    tab.go_back()
    expect(tab.locator(".banner")).to_have_text("Todos los sistemas operativos")

    # The Spanish copy is in the cache now; a visitor whose browser reads English gets English,
    # and one whose browser reads French gets French.
    for locale, lang, words in [
        ("en-US", "en", "All systems operational"),
        ("fr-FR", "fr", "Tous les systèmes sont opérationnels"),
        ("es-EC", "es", "Todos los sistemas operativos"),
    ]:
        context = browser.new_context(base_url=live_server.url, locale=locale)
        try:
            page = context.new_page()
            # Twice: the second visit is answered from what the first left (the browser's
            # copy revalidated against the server's cached one, tests/i18n checks X-Cache).
            for _visit in range(2):
                response = page.goto("/p/alpha/")
                assert response.headers["content-language"] == lang
                expect(page.locator("html")).to_have_attribute("lang", lang)
                expect(page.locator(".banner")).to_have_text(words)
        finally:
            context.close()

    # Back to English with one click.
    tab.locator("nav.languages").get_by_role("link", name="English").click()
    expect(tab.locator(".banner")).to_have_text("All systems operational")
