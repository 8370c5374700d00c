from django.db import migrations, models

import vaults.models


def fill_prefixes(apps, schema_editor):
    """Existing keys keep the keyring names they were created with (cmk-<id>-v<version>)."""
    key_model = apps.get_model("vaults", "EncryptionKey")
    for key in key_model.objects.all():
        key.keyring_prefix = str(key.pk)
        key.save(update_fields=["keyring_prefix"])


class Migration(migrations.Migration):
    dependencies = [("vaults", "0002_recoverypoint_purge_warned_resourceguard_and_more")]

    operations = [
        migrations.AddField(
            model_name="encryptionkey",
            name="keyring_prefix",
            field=models.CharField(editable=False, max_length=32, null=True),
        ),
        migrations.RunPython(fill_prefixes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="encryptionkey",
            name="keyring_prefix",
            field=models.CharField(default=vaults.models._new_prefix, editable=False, max_length=32, unique=True),
        ),
    ]
