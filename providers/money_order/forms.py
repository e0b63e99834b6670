from django import forms

from providers.forms import ProviderSettingsForm


class SettingsForm(ProviderSettingsForm):
    pay_to = forms.CharField(label="Pay To", max_length=255, help_text="Who the check is made payable to.")
    send_to = forms.CharField(
        label="Send To", widget=forms.Textarea(attrs={"rows": 3}), help_text="Mailing address and directions."
    )
