from providers.forms import ProviderSettingsForm


class SettingsForm(ProviderSettingsForm):
    """Payment Terms has no settings of its own: terms are assigned to customers and groups."""
