"""The one error type a user sees when a payment operation is refused. Rendered alike everywhere."""


class PaymentRefused(Exception):
    """A refusal the user can act on (amount too high, nothing left to capture, wrong currency…).

    Nothing was changed when this is raised.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message
