# Page visibility (draft, public, private) and a private page's ways in (status/access.py).

import secrets

import django.core.validators
from django.db import migrations, models

import status.access


def existing_pages_public_each_with_its_own_key(apps, schema_editor):
    # Pages made before visibility existed were public: they stay so. Each gets an access key of
    # its own (a callable default would give every existing row the same one).
    Page = apps.get_model("status", "Page")
    for page in Page.objects.only("pk"):
        Page.objects.filter(pk=page.pk).update(access_key=secrets.token_hex(16))


class Migration(migrations.Migration):
    dependencies = [
        ("status", "0017_external_refs"),
    ]

    operations = [
        migrations.AddField(
            model_name="page",
            name="visibility",
            # Existing rows take this default: public, as they were.
            field=models.CharField(
                choices=[
                    ("draft", "Draft: only members of the team see it"),
                    ("public", "Public: anyone may see it"),
                    ("private", "Private: only the visitors you admit"),
                ],
                default="public",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="page",
            name="visibility",
            field=models.CharField(
                choices=[
                    ("draft", "Draft: only members of the team see it"),
                    ("public", "Public: anyone may see it"),
                    ("private", "Private: only the visitors you admit"),
                ],
                default="draft",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="page",
            name="access_password",
            field=models.CharField(blank=True, editable=False, max_length=128),
        ),
        migrations.AddField(
            model_name="page",
            name="allowed_ips",
            field=models.JSONField(
                blank=True, default=list, validators=[status.access.validate_networks]
            ),
        ),
        migrations.AddField(
            model_name="page",
            name="allowed_email_domains",
            field=models.JSONField(
                blank=True, default=list, validators=[status.access.validate_email_entries]
            ),
        ),
        migrations.AddField(
            model_name="page",
            name="access_session_days",
            field=models.PositiveSmallIntegerField(
                default=30,
                help_text="How long a visitor admitted by password or email link stays signed in.",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(365),
                ],
            ),
        ),
        migrations.AddField(
            model_name="page",
            name="access_key",
            field=models.CharField(default="", editable=False, max_length=32),
            preserve_default=False,
        ),
        migrations.RunPython(
            existing_pages_public_each_with_its_own_key, migrations.RunPython.noop, elidable=True
        ),
        migrations.AlterField(
            model_name="page",
            name="access_key",
            field=models.CharField(
                default=status.access.new_access_key, editable=False, max_length=32
            ),
        ),
    ]
