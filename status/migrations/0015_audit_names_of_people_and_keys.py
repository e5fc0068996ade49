"""Audit entries made by people and API keys keep their names (`actor_label`), so that they
still name them once the account or key is deleted: filled in for the entries made before."""

from django.db import migrations
from django.db.models import CharField, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Concat, Left, NullIf


def name_the_actors(apps, schema_editor):
    entries = apps.get_model("status", "AuditLogEntry")
    users = apps.get_model("auth", "User")
    keys = apps.get_model("status", "ApiKey")
    person = users.objects.filter(pk=OuterRef("actor_id")).values(
        name=Coalesce(NullIf(F("email"), Value("")), F("username"))
    )[:1]
    entries.objects.filter(actor__isnull=False, actor_label="").update(
        actor_label=Left(Subquery(person, output_field=CharField()), 200)
    )
    key = keys.objects.filter(pk=OuterRef("api_key_id")).values("name")[:1]
    entries.objects.filter(actor__isnull=True, api_key__isnull=False, actor_label="").update(
        actor_label=Left(
            Concat(Value("API key “"), Subquery(key, output_field=CharField()), Value("”")),
            200,
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("status", "0014_metric_data_version"),
    ]

    operations = [migrations.RunPython(name_the_actors, migrations.RunPython.noop)]
