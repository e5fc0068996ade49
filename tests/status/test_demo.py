from django.contrib.auth import get_user_model
from django.core.management import call_command

from status.models import Component, ComponentStatusChange, Page


def test_demo_creates_jelou_and_acme_and_is_idempotent(db, settings):
    settings.DEBUG = True
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    counts = (
        Page.objects.count(),
        Component.objects.count(),
        ComponentStatusChange.objects.count(),
    )
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert counts == (
        Page.objects.count(),
        Component.objects.count(),
        ComponentStatusChange.objects.count(),
    )

    jelou = Page.objects.get(slug="jelou")
    assert jelou.time_zone == "America/Guayaquil"
    website = jelou.groups.get()
    assert website.name == "Website"
    assert [c.name for c in website.components.all()] == ["https://jelou.ai"]

    acme = Page.objects.get(slug="acme")
    assert acme.groups.count() == 3
    assert acme.components.count() == 12
    statuses = set(
        ComponentStatusChange.objects.filter(component__page=acme).values_list("status", flat=True)
    )
    assert {"partial_outage", "major_outage", "operational"} <= statuses
    oldest = ComponentStatusChange.objects.filter(component__page=acme).earliest("started_at")
    assert (acme.components.first().updated_at - oldest.started_at).days >= 90

    demo = get_user_model().objects.get(username="demo")
    assert demo.check_password("demo")
    assert set(demo.tenants.values_list("slug", flat=True)) == {"jelou", "acme"}


def test_demo_user_is_never_created_with_debug_off(db, settings):
    settings.DEBUG = False
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Page.objects.filter(slug__in=["jelou", "acme"]).count() == 2
    assert not get_user_model().objects.filter(username="demo").exists()


def test_demo_pages_render(client, db, settings):
    settings.DEBUG = True
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert "https://jelou.ai" in client.get("/p/jelou/").text
    acme = client.get("/p/acme/").text
    assert all(group in acme for group in ["Web", "API", "Infrastructure"])
