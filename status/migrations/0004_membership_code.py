from django.db import migrations, models

import status.models


def fill_codes(apps, schema_editor):
    Membership = apps.get_model("status", "Membership")
    for membership in Membership.objects.filter(code__isnull=True):
        membership.code = status.models.new_code()
        membership.save(update_fields=["code"])


class Migration(migrations.Migration):
    dependencies = [("status", "0003_console")]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="code",
            field=models.CharField(editable=False, max_length=12, null=True),
        ),
        migrations.RunPython(fill_codes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="membership",
            name="code",
            field=status.models.CodeField(
                default=status.models.new_code, editable=False, max_length=12, unique=True
            ),
        ),
    ]
