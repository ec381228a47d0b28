from django.db import migrations


def create_default_series(apps, schema_editor):
    InvoiceSeries = apps.get_model("billing", "InvoiceSeries")
    InvoiceSeries.objects.get_or_create(code="default", defaults={"prefix": "B-", "name": "Boletas"})


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(create_default_series, migrations.RunPython.noop)]
