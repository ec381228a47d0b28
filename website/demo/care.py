"""The demo's discharge and referral: the psychologist ends one patient's psychotherapy (an "alta") after their
last session and refers them to the nutritionist, sharing her signed notes. The psychologist sees the discharge and
the referral she made on the patient's page; the nutritionist finds the patient in her list, "referred by", with
the note and the shared notes. DEMO ONLY. Written through ``portal.records.services`` (encrypted with the
development key; the referral plans the patient's email). Created once: running the seed again adds nothing."""

from __future__ import annotations

import datetime

from django.utils import timezone

from booking.scheduling.models import Appointment, AppointmentStatus, Professional, Service
from portal.records import services
from portal.records.models import Discharge, Referral
from website.demo import content

PSYCHOLOGIST = "catalina-munoz"
NUTRITIONIST = "javiera-contreras"
REFERRAL_SERVICE = "consulta-nutricional"
# The demo patient whose login the README and the browser tests use to book: never discharged, so they can book
# anyone.
FIRST_PATIENT = next(email for email, _first, _last, role in content.ACCOUNTS if role == "patient")
SUMMARY = (
    "Alta terapéutica: cumple los objetivos acordados (ansiedad anticipatoria en rango leve, duerme 7 horas, usa "
    "registros y respiración de forma autónoma). Las sesiones ya agendadas quedan como controles de seguimiento. "
    "Se deriva a nutrición por alimentación emocional."
)
REFERRAL_NOTE = (
    "Paciente dada de alta de psicoterapia por ansiedad; describe episodios de alimentación emocional por las tardes "
    "y saltarse el almuerzo en días de alta carga. Sugiero evaluación nutricional y pautas de horarios de comida. "
    "Comparto mis notas firmadas de sesión."
)


def create_demo_care(*, now: datetime.datetime) -> int:
    """One discharge by the psychologist and her referral of that patient to the nutritionist; how many rows."""
    professionals = {
        item.slug: item
        for item in Professional.objects.filter(slug__in=[PSYCHOLOGIST, NUTRITIONIST]).select_related("user")
    }
    psychologist, nutritionist = professionals.get(PSYCHOLOGIST), professionals.get(NUTRITIONIST)
    if psychologist is None or nutritionist is None or not psychologist.user_id:
        return 0
    if Discharge.objects.filter(professional=psychologist).exists():
        return 0
    # Her latest completed session with a signed note (``demo.notes``), of a patient without a pack (the pack
    # patient's story is that they keep booking with her) and who is not the first demo patient.
    session = (
        Appointment.objects.filter(
            professional=psychologist, status=AppointmentStatus.COMPLETED, end__lt=now, note__isnull=False
        )
        .exclude(patient__user__email=FIRST_PATIENT)
        .exclude(patient__pack_purchases__isnull=False)
        .select_related("patient")
        .order_by("-start")
        .first()
    )
    if session is None:
        return 0
    discharged_at = min(session.end + datetime.timedelta(minutes=30), now - datetime.timedelta(minutes=5))
    services.discharge_patient(
        patient=session.patient,
        professional=psychologist,
        date=discharged_at.astimezone(timezone.get_default_timezone()).date(),
        summary=SUMMARY,
        actor=psychologist.user,
        now=discharged_at,
    )
    if Referral.objects.filter(from_professional=psychologist).exists():
        return 1
    services.refer_patient(
        patient=session.patient,
        from_professional=psychologist,
        to_professional=nutritionist,
        to_service=Service.objects.filter(slug=REFERRAL_SERVICE).first(),
        note=REFERRAL_NOTE,
        share_notes=True,
        actor=psychologist.user,
        now=discharged_at + datetime.timedelta(minutes=5),
    )
    return 2
