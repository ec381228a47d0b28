# TEMPORARY STAND-IN
from dataclasses import dataclass
from datetime import timedelta

from django.core import signing

CONFIRM_ATTENDANCE = "confirm_attendance"
CANCEL = "cancel"
MAX_AGE = timedelta(days=7)


class InvalidToken(Exception):
    pass


class ExpiredToken(InvalidToken):
    pass


@dataclass
class Claim:
    appointment_id: int
    patient_id: int


def make_token(appointment, purpose):
    return signing.dumps({"a": appointment.pk, "p": appointment.patient_id}, salt="n." + purpose)


def read_token(token, *, purpose):
    try:
        data = signing.loads(token, salt="n." + purpose, max_age=MAX_AGE)
    except signing.SignatureExpired as e:
        raise ExpiredToken from e
    except signing.BadSignature as e:
        raise InvalidToken from e
    return Claim(data["a"], data["p"])
