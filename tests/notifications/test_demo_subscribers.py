from django.core.management import call_command

from notifications.models import Subscriber


def test_the_demo_pages_have_a_few_confirmed_subscribers_once(db):
    for _ in range(2):
        call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    by_page = {}
    for subscriber in Subscriber.objects.select_related("page"):
        by_page.setdefault(subscriber.page.slug, []).append(subscriber)
    assert set(by_page) == {"jelou", "acme"}
    assert all(s.state == "confirmed" and s.email.endswith("@example.com")
               for subscribers in by_page.values() for s in subscribers)  # fmt: skip
    api_team = Subscriber.objects.get(page__slug="acme", email="api-team@example.com")
    assert sorted(c.name for c in api_team.components.all()) == ["REST API", "Webhooks"]
    infra = Subscriber.objects.get(page__slug="acme", email="infra@example.com")
    assert [g.name for g in infra.groups.all()] == ["Infrastructure"]
