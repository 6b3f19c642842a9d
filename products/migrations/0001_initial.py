"""Product rules and virtual numbers (issue 10)."""

import products.models
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='ProductRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sub_account_id', models.CharField(blank=True, db_index=True, max_length=64, verbose_name='sub-account')),
                ('number', models.CharField(blank=True, help_text='E.164, e.g. +6568332048', max_length=20, validators=[products.models.validate_e164], verbose_name='virtual number')),
                ('product', models.CharField(choices=[('IVR', 'IVR'), ('VOICE_MESSAGING', 'Voice Messaging'), ('NUMBER_MASKING', 'Number Masking')], max_length=20)),
                ('note', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['sub_account_id', 'number'],
                'constraints': [models.CheckConstraint(condition=models.Q(('number', ''), ('sub_account_id', ''), _negated=True), name='product_rule_has_a_sub_account_or_number'), models.UniqueConstraint(fields=('sub_account_id', 'number'), name='unique_product_rule')],
            },
        ),
        migrations.CreateModel(
            name='VirtualNumber',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sub_account_id', models.CharField(blank=True, max_length=64)),
                ('msisdn', models.CharField(max_length=40)),
                ('country_code', models.CharField(blank=True, max_length=8)),
                ('operational_status', models.CharField(blank=True, max_length=32)),
                ('reference_id', models.CharField(blank=True, max_length=100)),
                ('update_event_type', models.CharField(blank=True, max_length=32)),
                ('update_status', models.CharField(blank=True, max_length=32)),
                ('health_check_enabled', models.BooleanField(blank=True, null=True)),
                ('updated_at_8x8', models.DateTimeField(blank=True, null=True)),
                ('raw_event_id', models.BigIntegerField(blank=True, null=True)),
                ('seen_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['sub_account_id', 'msisdn'],
                'constraints': [models.UniqueConstraint(fields=('sub_account_id', 'msisdn'), name='unique_virtual_number')],
            },
        ),
    ]
