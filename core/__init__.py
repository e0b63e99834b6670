"""What every app shares and no app owns: money formatting and parsing, the payment statuses and their colours.

Nothing here imports a Django app, so every app (and the back-office, the storefront and the API) can import it.
"""
