"""Account use cases: patient profiles, legal consents and profile updates."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import IntegrityError, transaction

from .models import ConsentRecord, Patient, User
from .roles import PATIENTS

UNVERSIONED = "unversioned"


class AccountError(Exception):
    """A rule of the accounts domain was broken; ``message`` is shown to the user."""

    def __init__(self, message, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class LegalDocument:
    """One legal document a user must accept: which page, its URL and the revision shown."""

    document: str
    page_id: int | None = None
    url: str | None = None
    version: str = UNVERSIONED


def legal_documents(request=None) -> dict[str, LegalDocument]:
    """The privacy policy and terms pages chosen in the site settings of the request's site.

    The settings may have no page chosen, the page may be unpublished, or no Wagtail site may answer the
    request's host; the signup form still works then (without a link, the consent recorded unversioned).
    """
    documents = {
        ConsentRecord.Document.PRIVACY: LegalDocument(ConsentRecord.Document.PRIVACY),
        ConsentRecord.Document.TERMS: LegalDocument(ConsentRecord.Document.TERMS),
    }
    if request is None:
        return documents
    from website.models import SiteSettings  # here: the site shell loads booking/, which accounts never imports

    try:
        site_settings = SiteSettings.for_request(request)
    except SiteSettings.DoesNotExist:  # no Wagtail site answers the request's host
        return documents
    for document, attribute in (
        (ConsentRecord.Document.PRIVACY, "privacy_policy_page"),
        (ConsentRecord.Document.TERMS, "terms_page"),
    ):
        page = getattr(site_settings, attribute)
        if page is None:
            continue
        documents[document] = LegalDocument(
            document=document,
            page_id=page.pk,
            url=page.get_url(request) if page.live else None,
            version=str(page.live_revision_id) if page.live_revision_id else UNVERSIONED,
        )
    return documents


def ensure_patient(user: User) -> Patient:
    """The user's patient profile, created on first need; idempotent and safe under concurrent requests."""
    try:
        return user.patient
    except Patient.DoesNotExist:
        pass
    with transaction.atomic():
        patient, created = Patient.objects.get_or_create(user=user, defaults={"phone": user.phone})
        if created:
            group, _created = Group.objects.get_or_create(name=PATIENTS)
            user.groups.add(group)
    user.patient = patient
    return patient


def record_consents(
    user: User, documents: dict[str, LegalDocument] | list[LegalDocument], *, ip_address: str | None
) -> list[ConsentRecord]:
    """Write one ConsentRecord per accepted document, keeping the page revision the user was shown."""
    values = documents.values() if isinstance(documents, dict) else documents
    return ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(
                user=user,
                document=doc.document,
                version=doc.version,
                page_id=doc.page_id,
                ip_address=ip_address or None,
            )
            for doc in values
        ]
    )


def register_patient(
    user: User,
    *,
    phone: str,
    preferred_language: str,
    accepted_documents: dict[str, LegalDocument],
    ip_address: str | None,
) -> Patient:
    """Complete a signup: contact details, the patient profile and the consents, all or nothing."""
    with transaction.atomic():
        user.phone = phone
        user.preferred_language = preferred_language
        user.save(update_fields=["phone", "preferred_language"])
        patient = ensure_patient(user)
        record_consents(user, accepted_documents, ip_address=ip_address)
    return patient


# A patient's RUT that cannot be stored is refused with the same answer whatever the reason: it belongs to another
# patient, or this account has already had this many RUTs refused today (after which every new RUT is refused, so
# that trying RUT after RUT cannot tell which ones are registered).
RUT_REFUSALS_PER_DAY = 5
RUT_REFUSALS_WINDOW_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class ProfileUpdate:
    """What ``update_profile`` did: the patient, and whether the RUT entered was left unsaved."""

    patient: Patient
    rut_refused: bool = False


def _rut_refusals_key(user: User) -> str:
    return f"accounts:rut-refusals:{user.pk}"


def _refuse_rut(user: User) -> None:
    key = _rut_refusals_key(user)
    if cache.add(key, 1, RUT_REFUSALS_WINDOW_SECONDS):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, RUT_REFUSALS_WINDOW_SECONDS)


def _may_try_a_rut(user: User) -> bool:
    return (cache.get(_rut_refusals_key(user)) or 0) < RUT_REFUSALS_PER_DAY


def update_profile(user: User, patient: Patient, **changes) -> ProfileUpdate:
    """Save the profile form's values on the user and the patient; a RUT that cannot be stored is left out.

    A RUT already registered to another patient is never stored (two patients cannot share one) and never named
    as such: the patient would learn that somebody else is a patient of the clinic. The rest of the profile is
    saved and ``rut_refused`` says that the RUT was not, which is also the answer once the account has had
    ``RUT_REFUSALS_PER_DAY`` RUTs refused, so that the answer does not tell a registered RUT from a free one to
    someone trying many. Staff screens, which may see every patient, say plainly that the RUT is taken.
    """
    user_fields = ["first_name", "last_name", "phone", "preferred_language"]
    patient_fields = ["birth_date", "emergency_contact_name", "emergency_contact_phone"]
    with transaction.atomic():
        for name in user_fields:
            setattr(user, name, changes[name])
        user.save(update_fields=user_fields)
        for name in patient_fields:
            setattr(patient, name, changes[name])
        patient.phone = user.phone
        patient.save(update_fields=[*patient_fields, "phone"])
        rut_refused = not _store_rut(user, patient, changes["rut"])
    return ProfileUpdate(patient=patient, rut_refused=rut_refused)


def _store_rut(user: User, patient: Patient, rut: str | None) -> bool:
    """Store the patient's new RUT (or clear it); False, and nothing stored, when it is refused."""
    if rut == patient.rut:
        return True
    taken = rut is not None and Patient.objects.filter(rut=rut).exclude(pk=patient.pk).exists()
    if rut is not None and (taken or not _may_try_a_rut(user)):
        _refuse_rut(user)
        return False
    try:
        with transaction.atomic():  # a savepoint: a twin saved at the same moment must not undo the rest
            Patient.objects.filter(pk=patient.pk).update(rut=rut)
    except IntegrityError:
        _refuse_rut(user)
        return False
    patient.rut = rut
    return True


def mark_email_verified(user: User) -> None:
    """Record the user's login email as verified and primary, as allauth's confirmation would.

    For accounts created by staff or the demo seed: with mandatory verification, allauth refuses
    to log in a user whose address has no verified EmailAddress row.
    """
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
