import phonenumbers


def phone_e164(number, country_code=None):
    """``number`` in E.164 (+32470123456), read in ``country_code`` when it has no prefix; None if impossible."""
    return to_e164(number, country_code, strict=False)


def to_e164(number, country_code, strict=True):
    """Normalise ``number`` to E.164 using the contact's country, or return None if it is not a number.

    ``strict``: the number must be valid (an existing range: what we send to); otherwise it only
    needs to be possible (its length fits: enough to match a contact by phone).
    """
    number = (number or "").strip()
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, (country_code or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not (phonenumbers.is_valid_number(parsed) if strict else phonenumbers.is_possible_number(parsed)):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
