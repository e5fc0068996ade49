"""Subscribers in their language: the subscribe flow in each of the five languages, the
language a subscriber keeps (the one they subscribed in), and every notification email to them
written in it, however many languages one batch holds."""

import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from time_machine import travel

from incidents.models import Incident
from notifications.models import Subscriber
from tests.factories import make_subscriber
from tests.html import visible

SUBSCRIBE = "/p/alpha/subscribe/"
APRIL_FIRST = datetime(2026, 4, 1, 15, 0, tzinfo=UTC)

# lang: (the subscribe page's heading, the sent page's heading, the confirmation's subject,
# its first words)
FLOW = {
    "en": (
        "Subscribe to updates",
        "Check your inbox",
        "[Alpha] Confirm your subscription",
        "Someone, hopefully you, asked to get Alpha's status notifications at this address.",
    ),
    "es": (
        "Suscribirse a las actualizaciones",
        "Revisa tu bandeja de entrada",
        "[Alpha] Confirma tu suscripción",
        "Alguien, esperamos que tú, pidió recibir en esta dirección las notificaciones de "
        "estado de Alpha.",
    ),
    "pt-br": (
        "Assinar atualizações",
        "Confira sua caixa de entrada",
        "[Alpha] Confirme sua assinatura",
        "Alguém, esperamos que você, pediu para receber neste endereço as notificações de "
        "status de Alpha.",
    ),
    "fr": (
        "S’abonner aux mises à jour",
        "Consultez votre boîte de réception",
        "[Alpha] Confirmez votre abonnement",
        "Quelqu’un, sans doute vous, a demandé à recevoir les notifications d’état de Alpha à "
        "cette adresse.",
    ),
    "de": (
        "Updates abonnieren",
        "Sehen Sie in Ihrem Posteingang nach",
        "[Alpha] Bestätigen Sie Ihr Abonnement",
        "Jemand, hoffentlich Sie, hat die Statusbenachrichtigungen von Alpha an diese Adresse "
        "angefordert.",
    ),
}


@pytest.mark.parametrize("lang", list(FLOW))
def test_the_subscribe_flow_in_each_language(
    client, page, api, lang, django_capture_on_commit_callbacks
):
    heading, sent_heading, subject, first_words = FLOW[lang]
    asks = {"Accept-Language": lang}
    form = client.get(SUBSCRIBE, headers=asks)
    assert visible(form).find("h1").text == heading

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            SUBSCRIBE, {"channel": "email", "email": "ana@example.com"}, headers=asks
        )
    assert visible(sent).find("h1").text == sent_heading
    subscriber = Subscriber.objects.get(page=page, email="ana@example.com")
    assert subscriber.language == lang

    [message] = mail.outbox
    assert message.subject == subject
    assert message.body.startswith(first_words)
    html = message.alternatives[0][0]
    assert f'<html lang="{lang}">' in html
    confirm = re.search(r"http://status\.alpha\.example(/subscribe/confirm/[^/\s]+/)", message.body)
    page_of_link = client.get("/p/alpha" + confirm[1], headers=asks)
    assert page_of_link.status_code == 200
    assert (
        visible(page_of_link).find("h1").text
        == {
            "en": "Confirm your subscription",
            "es": "Confirma tu suscripción",
            "pt-br": "Confirme sua assinatura",
            "fr": "Confirmez votre abonnement",
            "de": "Bestätigen Sie Ihr Abonnement",
        }[lang]
    )


def test_a_subscriber_keeps_the_language_of_the_page_they_read(
    client, page, django_capture_on_commit_callbacks
):
    """Without a preference a visitor reads the page's default, and subscribes in it."""
    page.language = "es"
    page.save()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(SUBSCRIBE, {"channel": "email", "email": "luis@example.com"})
    assert Subscriber.objects.get(email="luis@example.com").language == "es"
    assert mail.outbox[0].subject == "[Alpha] Confirma tu suscripción"


# lang: (the subject of "resolved", the update's date line, "Affected components:", the footer)
RESOLVED = {
    "en": (
        "[Alpha] Resolved: Logins fail",
        "Resolved · Apr 1, 2026, 3:00 PM UTC",
        "Affected components:",
        "Manage your subscription: ",
    ),
    "es": (
        "[Alpha] Resuelto: Logins fail",
        "Resuelto · 1 abr 2026, 15:00 UTC",
        "Componentes afectados:",
        "Gestionar tu suscripción: ",
    ),
    "pt-br": (
        "[Alpha] Resolvido: Logins fail",
        "Resolvido · 1 abr 2026, 15:00 UTC",
        "Componentes afetados:",
        "Gerenciar sua assinatura: ",
    ),
    "fr": (
        "[Alpha] Résolu: Logins fail",
        "Résolu · 1 avr 2026, 15:00 UTC",
        "Composants concernés :",
        "Gérer votre abonnement: ",
    ),
    "de": (
        "[Alpha] Behoben: Logins fail",
        "Behoben · 1. Apr 2026, 15:00 UTC",
        "Betroffene Komponenten:",
        "Abonnement verwalten: ",
    ),
}


def test_one_batch_writes_each_subscriber_in_their_language(
    page, api, django_capture_on_commit_callbacks
):
    for lang in RESOLVED:
        subscriber = make_subscriber(page, f"{lang}@example.com")
        subscriber.language = lang
        subscriber.save()
    with travel(APRIL_FIRST, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            incident = Incident.declare(
                page,
                name="Logins fail",
                body="Some users cannot log in.",
                component_statuses={api: "partial_outage"},
            )
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            incident.post_update("resolved", "Fixed.", component_statuses={api: "operational"})

    by_address = {message.to[0]: message for message in mail.outbox}
    assert len(by_address) == len(RESOLVED)
    for lang, (subject, dated, affected, footer) in RESOLVED.items():
        message = by_address[f"{lang}@example.com"]
        assert message.subject == subject, lang
        assert dated in message.body, (lang, message.body)
        assert affected in message.body, lang
        assert footer in message.body, lang
        html = message.alternatives[0][0]
        assert f'<html lang="{lang}">' in html, lang


def test_a_subscriber_staff_add_gets_the_pages_default_language(page, owner_a):
    page.language = "de"
    page.save()
    subscriber = Subscriber.objects.create_subscriber(
        page, channel="email", email="max@example.com", by=owner_a
    )
    assert subscriber.language == "de"
