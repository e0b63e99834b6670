"""Both new permissions (send invoices, activate invoice payments) on one model: the two branches' migrations meet here."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0009_apruve_invoice_permission'),
        ('payments', '0009_infinitepay_activate_permission'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='paymenttransaction',
            options={'ordering': ['created_at', 'id'], 'permissions': [('view_payment_history', 'Can view payment history'), ('capture_payment', 'Can capture payments'), ('cancel_payment', 'Can cancel payment authorizations'), ('refund_payment', 'Can refund payments'), ('invoice_payment', 'Can send invoices for authorized payments'), ('resolve_payment', 'Can resolve payments nobody could settle'), ('activate_payment', 'Can activate invoice payments (invoice issued)')]},
        ),
    ]
