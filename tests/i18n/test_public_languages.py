"""Public pages in their visitors' language (status/languages.py): which language a request
gets, the status page, the example incident page and the history in each of the five, the
language switcher, and a cache that never serves one language's copy to another's reader."""

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings
from time_machine import travel

from incidents.models import Incident
from status import languages
from tests.html import parse_html, visible

ECUADOR = ZoneInfo("America/Guayaquil")
APRIL_FIRST = datetime(2026, 4, 1, 15, 0, tzinfo=UTC)
PAGE = "/p/alpha/"

# What each language says: the banner, the empty day, today's heading (1 April 2026).
STATUS_PAGE = {
    "en": ("All systems operational", "No incidents reported.", "Apr 1, 2026", "Past incidents"),
    "es": (
        "Todos los sistemas operativos",
        "No se reportaron incidentes.",
        "1 de abril de 2026",
        "Incidentes anteriores",
    ),
    "pt-br": (
        "Todos os sistemas operacionais",
        "Nenhum incidente relatado.",
        # Django's Brazilian Portuguese capitalises month and day names (its locale's choice).
        "1 de Abril de 2026",
        "Incidentes anteriores",
    ),
    "fr": (
        "Tous les systèmes sont opérationnels",
        "Aucun incident signalé.",
        "1 avril 2026",
        "Incidents passés",
    ),
    "de": (
        "Alle Systeme betriebsbereit",
        "Keine Vorfälle gemeldet.",
        "1. April 2026",
        "Vergangene Vorfälle",
    ),
}


def html_lang(response):
    return parse_html(response.text).find("html").attrs["lang"]


def banner(response):
    return visible(response).find("section", class_="banner").text


# Which language a request gets -------------------------------------------------------------


def test_the_choice_beats_accept_language_which_beats_the_default():
    offered = ["en", "es", "fr"]
    assert languages.choose("en", offered, chosen="es", accept="fr") == "es"
    assert languages.choose("en", offered, accept="de-DE, fr;q=0.8, es;q=0.5") == "fr"
    assert languages.choose("es", offered, accept="de, ja") == "es"
    assert languages.choose("es", offered) == "es"


def test_a_choice_or_accept_language_the_page_does_not_offer_falls_back():
    assert languages.choose("es", ["en", "es"], chosen="de", accept="") == "es"
    assert languages.choose("en", ["en", "es"], chosen="klingon", accept="es") == "es"
    # q=0 means "not this one".
    assert languages.choose("en", ["en", "es"], accept="es;q=0") == "en"


def test_accept_language_matches_regional_and_generic_tags():
    every = languages.codes()
    assert languages.best_accepted("es-EC,es;q=0.9", every) == "es"
    assert languages.best_accepted("pt-BR", every) == "pt-br"
    assert languages.best_accepted("pt-PT,pt;q=0.9", every) == "pt-br"
    assert languages.best_accepted("fr-CA", every) == "fr"
    assert languages.best_accepted("*", every) is None


# The status page in each language -----------------------------------------------------------


@pytest.mark.parametrize("lang", list(STATUS_PAGE))
def test_the_status_page_in_each_language(client, page, lang):
    words, empty_day, today, past = STATUS_PAGE[lang]
    with travel(APRIL_FIRST, tick=False):
        response = client.get(PAGE, headers={"Accept-Language": lang})
    assert response.status_code == 200
    assert html_lang(response) == lang
    assert response["Content-Language"] == lang
    assert banner(response) == words
    body = visible(response)
    assert body.find("h2", id="past-incidents").text == past
    assert body.find("div", class_="past-day").find("h3").text == today
    assert empty_day in body.text


def test_english_is_what_it_always_was(client, page):
    """A visitor whose browser asks for nothing gets the page's default, English."""
    response = client.get(PAGE)
    assert html_lang(response) == "en"
    body = visible(response)
    assert banner(response) == "All systems operational"
    assert "Subscribe to updates" in body.text
    assert "Times are shown in UTC." in body.text


def test_the_page_default_is_what_a_visitor_without_a_preference_gets(client, page):
    page.language = "fr"
    page.save()
    response = client.get(PAGE)
    assert html_lang(response) == "fr"
    assert banner(response) == "Tous les systèmes sont opérationnels"


def test_a_language_the_page_does_not_offer_falls_back_to_its_default(client, page):
    page.language = "es"
    page.languages = ["es", "en"]
    page.save()
    assert html_lang(client.get(PAGE, headers={"Accept-Language": "de"})) == "es"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    assert html_lang(client.get(PAGE)) == "es"
    assert html_lang(client.get(PAGE, headers={"Accept-Language": "en"})) == "en"


def test_the_cookie_beats_accept_language(client, page):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    response = client.get(PAGE, headers={"Accept-Language": "de, en;q=0.5"})
    assert html_lang(response) == "pt-br"
    assert banner(response) == "Todos os sistemas operacionais"


def test_the_page_names_its_alternates_and_offers_a_switcher(client, page):
    page.languages = ["en", "es"]
    page.save()
    response = client.get(PAGE, headers={"Accept-Language": "es"})
    links = parse_html(response.text).find_all("link")
    alternates = {
        link.attrs["hreflang"]: link.attrs["href"] for link in links if "hreflang" in link.attrs
    }
    assert alternates == {
        "en": "http://testserver/p/alpha/?lang=en",
        "es": "http://testserver/p/alpha/?lang=es",
        "x-default": "http://testserver/p/alpha/",
    }
    switcher = visible(response).find("nav", class_="languages")
    assert switcher.text == "English · Español"
    [english] = switcher.find_all("a")
    assert english.attrs["href"] == "/p/alpha/language/?lang=en"
    history = client.get("/p/alpha/history/", headers={"Accept-Language": "es"})
    [english] = visible(history).find("nav", class_="languages").find_all("a")
    assert english.attrs["href"] == "/p/alpha/language/?lang=en&next=history/"
    # The alternate's address says its language, whatever the browser asks for.
    assert html_lang(client.get(alternates["en"], headers={"Accept-Language": "es"})) == "en"


def test_a_page_offering_one_language_has_no_switcher(client, page):
    page.languages = ["en"]
    page.save()
    response = client.get(PAGE, headers={"Accept-Language": "es"})
    assert html_lang(response) == "en"
    assert visible(response).find_all("nav", class_="languages") == []
    assert 'hreflang="' not in response.text


# The switcher --------------------------------------------------------------------------------


def test_switching_sets_the_cookie_and_goes_back(client, page):
    response = client.get("/p/alpha/language/", {"lang": "de", "next": "history/"})
    assert response.status_code == 303
    assert response["Location"] == "/p/alpha/history/"
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "de"
    assert cookie["samesite"] == "Lax"
    # The next page, and the one after, are in German.
    history = client.get("/p/alpha/history/", headers={"Accept-Language": "en"})
    assert visible(history).find("h1").text == "Vorfallverlauf"
    assert html_lang(client.get(PAGE)) == "de"


def test_switching_to_a_language_the_page_does_not_offer_is_refused(client, page):
    page.languages = ["en", "es"]
    page.save()
    response = client.get("/p/alpha/language/", {"lang": "de", "next": PAGE})
    assert response.status_code == 400
    assert "en, es" in response.text
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


@pytest.mark.parametrize(
    "elsewhere", ["https://evil.example/", "//evil.example/", "/p/other/", "../other/", ""]
)
def test_switching_never_sends_a_visitor_off_the_page(client, page, elsewhere):
    response = client.get("/p/alpha/language/", {"lang": "es", "next": elsewhere})
    assert response.status_code == 303
    assert response["Location"] == PAGE


# The cache -----------------------------------------------------------------------------------


def test_the_cache_never_serves_one_language_to_another(client, page):
    spanish = client.get(PAGE, headers={"Accept-Language": "es"})
    assert spanish["X-Cache"] == "miss"
    assert banner(spanish) == "Todos los sistemas operativos"
    again = client.get(PAGE, headers={"Accept-Language": "es-EC"})
    assert again["X-Cache"] == "hit"
    assert banner(again) == "Todos los sistemas operativos"

    english = client.get(PAGE, headers={"Accept-Language": "en-US"})
    assert english["X-Cache"] == "miss"
    assert banner(english) == "All systems operational"
    assert html_lang(english) == "en"

    fresh = Client()
    fresh.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    french = fresh.get(PAGE, headers={"Accept-Language": "es"})
    assert banner(french) == "Tous les systèmes sont opérationnels"


def test_responses_say_what_they_vary_on(client, page):
    response = client.get(PAGE, headers={"Accept-Language": "es"})
    vary = {name.strip().lower() for name in response["Vary"].split(",")}
    assert {"cookie", "accept-language"} <= vary
    hit = client.get(PAGE, headers={"Accept-Language": "es"})
    assert hit["X-Cache"] == "hit"
    assert {"cookie", "accept-language"} <= {
        name.strip().lower() for name in hit["Vary"].split(",")
    }
    assert hit["Content-Language"] == "es"


# The example incident page (the demo's Jelou page, Spanish-first) -----------------------------

JELOU = {
    # lang: (banner, status, impact, started, lasted, the timeline, the start's full date)
    "es": (
        "Todos los sistemas operativos",
        "Resuelto",
        "Menor",
        "Comenzó hace 9 días",
        "Duró menos de un minuto",
        "Rendimiento degradado a las 00:26",
        "miércoles, 1 de abril de 2026, 00:26:00",
    ),
    "en": (
        "All systems operational",
        "Resolved",
        "Minor",
        "Started 9 days ago",
        "Lasted less than a minute",
        "Degraded performance at 12:26 AM",
        "Wednesday, April 1, 2026, 12:26:00 AM",
    ),
    "pt-br": (
        "Todos os sistemas operacionais",
        "Resolvido",
        "Menor",
        "Começou há 9 dias",
        "Durou menos de um minuto",
        "Desempenho degradado às 00:26",
        "Quarta-feira, 1 de Abril de 2026, 00:26:00",
    ),
    "fr": (
        "Tous les systèmes sont opérationnels",
        "Résolu",
        "Mineur",
        "A commencé il y a 9 jours",
        "A duré moins d’une minute",
        "Performances dégradées à 00:26",
        "mercredi 1 avril 2026, 00:26:00",
    ),
    "de": (
        "Alle Systeme betriebsbereit",
        "Behoben",
        "Gering",
        "Begonnen vor 9 Tagen",
        "Dauer: weniger als eine Minute",
        "Eingeschränkte Leistung um 00:26",
        "Mittwoch, 1. April 2026, 00:26:00",
    ),
}


@pytest.fixture(scope="module")
def jelou_pages(django_db_setup, django_db_blocker):
    """The demo's Jelou incident page on 2026-04-10 at noon in Ecuador, as a visitor without a
    preference sees it, and in each language by the switcher's cookie."""
    with (
        django_db_blocker.unblock(),
        travel(datetime(2026, 4, 10, 12, 0, tzinfo=ECUADOR), tick=False),
        override_settings(
            DEBUG=True,
            SITE_HOSTS=[*settings.SITE_HOSTS, "testserver"],
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ),
        transaction.atomic(),
    ):
        cache.clear()
        call_command("demo", stdout=io.StringIO())
        incident = Incident.objects.get(name="Authentication Service Degradation")
        path = f"/p/jelou/incidents/{incident.code}/"
        pages = {"default": Client().get(path)}
        for lang in JELOU:
            client = Client()
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
            pages[lang] = client.get(path)
        transaction.set_rollback(True)
    cache.clear()
    return pages


def test_the_jelou_incident_page_is_spanish_first(jelou_pages):
    response = jelou_pages["default"]
    assert html_lang(response) == "es"
    body = visible(response)
    assert body.find("section", class_="banner").text == "Todos los sistemas operativos"
    assert body.find("h2", id="updates").text == "Actualizaciones"
    assert "Las horas se muestran en America/Guayaquil." in body.text
    # English one click away.
    english = [a for a in body.find("nav", class_="languages").find_all("a") if a.text == "English"]
    code = response.wsgi_request.path.split("/incidents/")[1]
    assert english[0].attrs["href"] == f"/p/jelou/language/?lang=en&next=incidents/{code}"


@pytest.mark.parametrize("lang", list(JELOU))
def test_the_jelou_incident_page_in_each_language(jelou_pages, lang):
    words, status, impact, started, lasted, timeline, full_date = JELOU[lang]
    response = jelou_pages[lang]
    assert html_lang(response) == lang
    body = visible(response)
    assert body.find("section", class_="banner").text == words
    assert body.find("dd", class_="incident-status").text == status
    assert body.find("dd", class_="impact").text == impact
    started_span, lasted_span = body.find("p", class_="when").find_all("span")
    assert started_span.text == started
    assert lasted_span.text == lasted
    exact = started_span.find("time")
    assert exact.attrs["datetime"] == "2026-04-01T00:26:00-05:00"  # still Ecuador's time
    assert full_date in exact.attrs["title"]
    rows = [item.text for item in body.find("section", class_="affected").find_all("li")]
    assert any(row.endswith(timeline) for row in rows), rows


# Feeds, calendar, badge and widget -----------------------------------------------------------


def test_feeds_calendar_badge_and_widget_speak_the_visitors_language(client, page):
    asks = {"Accept-Language": "es"}
    atom = client.get("/p/alpha/history.atom", headers=asks).content.decode()
    assert "<title>Estado de Alpha - Historial de incidentes</title>" in atom
    assert 'xml:lang="es"' in atom
    rss = client.get("/p/alpha/history.rss", headers=asks).content.decode()
    assert "<description>Incidentes y mantenimientos programados de Alpha.</description>" in rss
    assert "<language>es</language>" in rss
    ics = client.get("/p/alpha/maintenance.ics", headers=asks).content.decode()
    assert "X-WR-CALNAME:Mantenimientos programados de Alpha" in ics
    badge = client.get("/p/alpha/badge.svg", headers=asks).content.decode()
    assert 'aria-label="estado: Todos los sistemas operativos"' in badge
    widget = client.get("/p/alpha/embed/", headers={"Accept-Language": "de"})
    assert html_lang(widget) == "de"
    assert visible(widget).find("strong").text == "Alle Systeme betriebsbereit"
    # English as before.
    english = client.get("/p/alpha/badge.svg", headers={"Accept-Language": "en"})
    assert 'aria-label="status: All Systems Operational"' in english.content.decode()
