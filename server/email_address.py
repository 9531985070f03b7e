"""E-mail addresses: checked by email-validator offline (no DNS), then normalised."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def normalise_email(value: str) -> str:
    """`value` as stored: domain lower-cased (IDNA), local part as typed (Unicode NFC).

    The local part keeps its case: logins and the unique index compare lower(email), so
    case never decides who signs in, and the address is shown as its owner wrote it.
    `test_environment` admits `.test` domains (the demo's and the tests'); other
    special-use names (`localhost`, `.local`, `.invalid`) stay refused.
    Raises ValueError with a readable reason.
    """
    try:
        checked = validate_email(
            value, check_deliverability=False, test_environment=True,
            allow_quoted_local=False, allow_domain_literal=False, allow_display_name=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.normalized
