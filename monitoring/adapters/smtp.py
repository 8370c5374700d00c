"""Email through Django's configured backend (SMTP from the environment: EMAIL_HOST, EMAIL_PORT, …)."""

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from monitoring.adapters import DeliveryFailed


def send_email(*, to: list[str], subject: str, body: str, timeout: float) -> None:
    """Send one message to every address in `to`; raises DeliveryFailed when the server refuses or is away."""
    try:
        connection = get_connection(timeout=timeout)
        sent = EmailMessage(
            subject=subject[:250], body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to, connection=connection
        ).send()
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"SMTP: {error.__class__.__name__}: {error}"[:500]) from None
    if not sent:
        raise DeliveryFailed("The email backend sent nothing.")
