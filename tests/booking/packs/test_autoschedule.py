"""``propose_schedule`` / ``confirm_schedule``: every remaining session as a free slot, then all booked or none."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext

from booking.packs.errors import PackError
from booking.packs.models import CreditKind, PackCreditEntry
from booking.packs.selectors import balances
from booking.packs.services import (
    ScheduleConflict,
    alternatives_for,
    confirm_schedule,
    propose_schedule,
    replace_proposal,
    sign_plan,
    sign_proposal,
    unsign_plan,
    unsign_proposal,
)
from booking.scheduling.models import Appointment
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory, TimeOffFactory

from .autoschedule_world import NOW, NOW_AUGUST, SANTIAGO, build_world, buy, local

pytestmark = pytest.mark.django_db

MONDAY = date(2027, 3, 22)


@pytest.fixture
def world(db):
    return build_world()


def propose(world, purchase, actor, **kwargs):
    kwargs.setdefault("professionals", [world.ana, world.bruno])
    kwargs.setdefault("start_date", MONDAY)
    kwargs.setdefault("weekdays", [0, 2])
    kwargs.setdefault("time_from", time(9))
    kwargs.setdefault("time_to", time(11))
    kwargs.setdefault("cadence", "weekly")
    kwargs.setdefault("now", NOW)
    return propose_schedule(purchase=purchase, actor=actor, **kwargs)


def summary(plan):
    return [
        (
            proposal.service.name,
            proposal.professional.display_name,
            local(proposal.start).strftime("%a %Y-%m-%d %H:%M"),
        )
        for proposal in plan.proposals
    ]


@pytest.mark.parametrize(
    ("now", "start", "offsets"),
    [
        (NOW, date(2027, 3, 22), ["-03", "-03", "-03", "-03", "-04", "-04"]),
        (NOW_AUGUST, date(2027, 8, 30), ["-04", "-04", "-03", "-03", "-03", "-03"]),
    ],
    ids=["clocks-go-back-april", "clocks-go-forward-september"],
)
def test_weekly_plan_across_two_professionals_and_two_services_keeps_local_time_across_dst(
    world, receptionist, now, start, offsets
):
    purchase = buy(world, {world.psychology: 3, world.nutrition: 3}, now=now)

    plan = propose(world, purchase, receptionist, start_date=start, now=now)

    assert plan.unplaced == ()
    assert len(plan.proposals) == 6
    # Psychology on Mondays (Ana, the earliest that day), nutrition on Wednesdays (Bruno, the only one offering it),
    # each a week after the previous one of its service, always at 09:00 local; the UTC instant moves instead.
    mondays = [start + timedelta(days=7 * week) for week in range(3)]
    wednesdays = [day + timedelta(days=2) for day in mondays]
    expected = []
    for monday, wednesday in zip(mondays, wednesdays, strict=True):
        expected.append(("Psicoterapia", "Ana", datetime.combine(monday, time(9)).strftime("%a %Y-%m-%d %H:%M")))
        expected.append(
            ("Control nutricional", "Bruno", datetime.combine(wednesday, time(9)).strftime("%a %Y-%m-%d %H:%M"))
        )
    assert summary(plan) == expected
    assert [local(proposal.start).strftime("%z")[:3] for proposal in plan.proposals] == offsets
    assert all(proposal.location == world.location for proposal in plan.proposals)
    assert all(proposal.modality == "in_person" for proposal in plan.proposals)
    assert plan.proposals[0].end - plan.proposals[0].start == timedelta(minutes=50)
    assert plan.proposals[1].end - plan.proposals[1].start == timedelta(minutes=45)

    appointments = confirm_schedule(
        purchase=purchase, proposals=plan.proposals, actor=receptionist, source="admin", now=now
    )

    assert [appointment.start for appointment in appointments] == [proposal.start for proposal in plan.proposals]
    assert all(appointment.pack_purchase_id == purchase.pk for appointment in appointments)
    assert balances(purchase).remaining == 0


def test_biweekly_places_each_service_two_weeks_apart(world, receptionist):
    purchase = buy(world, {world.psychology: 3})

    plan = propose(world, purchase, receptionist, cadence="biweekly", weekdays=[0])

    assert [local(p.start).date() for p in plan.proposals] == [date(2027, 3, 22), date(2027, 4, 5), date(2027, 4, 19)]
    assert {local(p.start).time() for p in plan.proposals} == {time(9)}


def test_asap_takes_the_next_days_one_session_a_day(world, receptionist):
    purchase = buy(world, {world.psychology: 2, world.nutrition: 2})

    plan = propose(world, purchase, receptionist, cadence="asap", weekdays=range(5))

    assert [local(p.start).date() for p in plan.proposals] == [
        date(2027, 3, 22),
        date(2027, 3, 23),
        date(2027, 3, 24),
        date(2027, 3, 25),
    ]
    assert [p.service for p in plan.proposals] == [world.psychology, world.nutrition] * 2


def test_asap_without_one_per_day_fills_the_window_without_overlaps(world, receptionist):
    purchase = buy(world, {world.psychology: 2, world.nutrition: 2})

    plan = propose(world, purchase, receptionist, cadence="asap", weekdays=[0], time_to=time(13), one_per_day=False)

    assert plan.unplaced == ()
    assert {local(p.start).date() for p in plan.proposals} == {MONDAY}
    ordered = sorted(plan.proposals, key=lambda p: p.start)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        assert earlier.end <= later.start
    assert all(time(9) <= local(p.start).time() and local(p.end).time() <= time(13) for p in plan.proposals)


def test_sessions_after_the_expiry_are_reported_not_proposed(world, receptionist):
    # Bought on 18 March, valid 21 days: until 8 April 10:00.
    purchase = buy(world, {world.psychology: 4}, validity_days=21)

    plan = propose(world, purchase, receptionist, weekdays=[0])

    assert [local(p.start).date() for p in plan.proposals] == [date(2027, 3, 22), date(2027, 3, 29), date(2027, 4, 5)]
    assert all(p.start < purchase.expires_at for p in plan.proposals)
    (unplaced,) = plan.unplaced
    assert (unplaced.service, unplaced.count, unplaced.code) == (world.psychology, 1, "expiry")
    assert unplaced.message


def test_the_patients_own_session_is_avoided(world, receptionist):
    other = ProfessionalFactory(services=[world.psychology])
    AppointmentFactory(
        patient=world.patient,
        professional=other,
        service=world.psychology,
        start=datetime(2027, 3, 22, 9, 0, tzinfo=SANTIAGO),
    )
    purchase = buy(world, {world.psychology: 2})

    one_a_day = propose(world, purchase, receptionist, cadence="asap", weekdays=[0, 1])
    same_day = propose(world, purchase, receptionist, cadence="asap", weekdays=[0], one_per_day=False)

    assert [local(p.start).date() for p in one_a_day.proposals] == [date(2027, 3, 23), date(2027, 3, 29)]
    # 09:00 and 09:30 overlap her 09:00-09:50 session; after 10:00-10:50 nothing else fits before 11:00 that day.
    assert [local(p.start) for p in same_day.proposals] == [
        datetime(2027, 3, 22, 10, tzinfo=SANTIAGO),
        datetime(2027, 3, 29, 9, tzinfo=SANTIAGO),
    ]


def test_a_pool_is_split_over_its_services_in_the_snapshots_order(world, receptionist):
    purchase = buy(world, {world.psychology: None, world.nutrition: None}, pool=5)

    plan = propose(world, purchase, receptionist, weekdays=range(5))
    chosen = propose(world, purchase, receptionist, weekdays=range(5), sessions={world.nutrition.pk: 4})

    assert sorted(p.service.name for p in plan.proposals) == ["Control nutricional"] * 2 + ["Psicoterapia"] * 3
    assert [p.service for p in chosen.proposals] == [world.nutrition] * 4
    with pytest.raises(PackError) as refused:
        propose(world, purchase, receptionist, sessions={world.nutrition.pk: 4, world.psychology.pk: 2})
    assert refused.value.code == "no_sessions_left"


def test_query_count_does_not_grow_with_the_number_of_sessions(world, receptionist):
    small = buy(world, {world.psychology: 2, world.nutrition: 1})
    large = buy(world, {world.psychology: 8, world.nutrition: 4}, patient=PatientFactory())

    propose(world, small, receptionist)  # the actor's permissions are read once and cached on the user
    with CaptureQueriesContext(connection) as three:
        small_plan = propose(world, small, receptionist, weekdays=range(5))
    with CaptureQueriesContext(connection) as twelve:
        large_plan = propose(world, large, receptionist, weekdays=range(5))

    assert (len(small_plan.proposals), len(large_plan.proposals)) == (3, 12)
    assert len(three.captured_queries) == len(twelve.captured_queries)


def test_professionals_the_pack_does_not_allow_are_refused(world, receptionist):
    purchase = buy(world, {world.psychology: 2}, allowed=[world.ana])

    with pytest.raises(PackError) as refused:
        propose(world, purchase, receptionist)

    assert refused.value.code == "professional_not_in_pack"
    assert len(propose(world, purchase, receptionist, professionals=[world.ana]).proposals) == 2


def test_a_service_nobody_chosen_offers_is_reported(world, receptionist):
    purchase = buy(world, {world.psychology: 1, world.nutrition: 1})

    plan = propose(world, purchase, receptionist, professionals=[world.ana])

    assert [p.service for p in plan.proposals] == [world.psychology]
    assert [(u.service, u.count, u.code) for u in plan.unplaced] == [(world.nutrition, 1, "no_professional")]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"professionals": []}, "Choose at least one professional."),
        ({"weekdays": []}, "Choose at least one weekday."),
        ({"weekdays": [7]}, "Choose at least one weekday."),
        ({"time_from": time(11), "time_to": time(11)}, "The time window must end after it starts."),
        ({"time_from": time(12), "time_to": time(9)}, "The time window must end after it starts."),
        ({"start_date": date(2027, 3, 18)}, "The start date cannot be in the past."),
        ({"cadence": "daily"}, "Choose how often the sessions should be."),
        ({"professionals": ["x"]}, "The scheduling details are not valid."),
    ],
    ids=["no-professional", "no-weekday", "bad-weekday", "empty-window", "inverted-window", "past", "cadence", "id"],
)
def test_bad_input_is_refused_with_a_clear_message(world, receptionist, changes, message):
    purchase = buy(world, {world.psychology: 2})

    with pytest.raises(PackError) as refused:
        propose(world, purchase, receptionist, **changes)

    assert refused.value.message == gettext(message)


def test_another_patient_may_not_plan_someone_elses_pack(world):
    purchase = buy(world, {world.psychology: 2})
    stranger = PatientFactory()

    with pytest.raises(PackError) as refused:
        propose(world, purchase, stranger.user)

    assert refused.value.code == "not_allowed"
    assert len(propose(world, purchase, world.patient.user).proposals) == 2


def test_confirm_books_nothing_when_one_slot_was_taken_meanwhile(world, receptionist):
    purchase = buy(world, {world.psychology: 3})
    plan = propose(world, purchase, receptionist, weekdays=[0])
    taken = plan.proposals[1]
    AppointmentFactory(
        professional=taken.professional,
        service=world.psychology,
        modality="in_person",
        location=world.location,
        start=taken.start,
    )
    entries_before = PackCreditEntry.objects.count()

    with pytest.raises(ScheduleConflict) as conflict:
        confirm_schedule(purchase=purchase, proposals=plan.proposals, actor=receptionist, source="admin", now=NOW)

    assert not Appointment.objects.filter(patient=world.patient).exists()
    assert PackCreditEntry.objects.count() == entries_before
    assert balances(purchase).remaining == 3
    (failure,) = conflict.value.failures
    assert (failure.index, failure.proposal, failure.code) == (1, taken, "slot_unavailable")
    assert failure.alternatives
    others = [plan.proposals[0], plan.proposals[2]]
    for alternative in failure.alternatives:
        assert alternative.service == world.psychology
        assert alternative.start != taken.start or alternative.professional != taken.professional
        assert all(local(alternative.start).date() != local(other.start).date() for other in others)
    assert conflict.value.code == "schedule_conflict"

    # Swapping in an alternative and confirming again books the whole plan.
    fixed = replace_proposal(plan, plan.proposals.index(taken), failure.alternatives[0])
    booked = confirm_schedule(
        purchase=purchase, proposals=fixed.proposals, actor=receptionist, source="admin", now=NOW
    )
    assert len(booked) == 3
    assert PackCreditEntry.objects.filter(purchase=purchase, kind=CreditKind.RESERVED).count() == 3


def test_alternatives_are_other_free_times_beside_the_rest_of_the_plan(world, receptionist):
    purchase = buy(world, {world.psychology: 2, world.nutrition: 1})
    plan = propose(world, purchase, receptionist)

    alternatives = alternatives_for(plan=plan, index=0, actor=receptionist, now=NOW)

    assert 0 < len(alternatives) <= 8
    first = plan.proposals[0]
    other_days = {local(p.start).date() for p in plan.proposals[1:]}
    for alternative in alternatives:
        assert alternative.service == first.service
        assert alternative.key != first.key
        assert local(alternative.start).weekday() in (0, 2)
        assert time(9) <= local(alternative.start).time() and local(alternative.end).time() <= time(11)
        assert local(alternative.start).date() not in other_days
    assert [a.start for a in alternatives] == sorted(a.start for a in alternatives)


def test_a_signed_plan_comes_back_equal_and_a_tampered_one_is_refused(world, receptionist):
    purchase = buy(world, {world.psychology: 2, world.nutrition: 1})
    other_purchase = buy(world, {world.psychology: 2}, patient=PatientFactory())
    plan = propose(world, purchase, receptionist)
    value = sign_plan(plan)

    again = unsign_plan(value, purchase=purchase)

    assert [p.key for p in again.proposals] == [p.key for p in plan.proposals]
    assert [p.end for p in again.proposals] == [p.end for p in plan.proposals]
    assert again.request == plan.request
    for bad in (value[:-2] + "xx", "", "not-a-plan"):
        with pytest.raises(PackError):
            unsign_plan(bad, purchase=purchase)
    with pytest.raises(PackError) as foreign:
        unsign_plan(value, purchase=other_purchase)
    assert foreign.value.code == "other_patient"
    token = sign_proposal(purchase, plan.proposals[0])
    assert unsign_proposal(token, purchase=purchase, plan=plan).key == plan.proposals[0].key
    with pytest.raises(PackError):
        unsign_proposal(token, purchase=other_purchase)


def test_confirm_refuses_an_expired_pack_and_an_empty_plan(world, receptionist):
    purchase = buy(world, {world.psychology: 2})
    plan = propose(world, purchase, receptionist)

    with pytest.raises(PackError) as expired:
        confirm_schedule(
            purchase=purchase, proposals=plan.proposals, actor=receptionist, source="admin", now=purchase.expires_at
        )
    with pytest.raises(PackError):
        confirm_schedule(purchase=purchase, proposals=[], actor=receptionist, source="admin", now=NOW)

    assert expired.value.code == "expired"
    assert not Appointment.objects.exists()


def test_proposals_are_utc_instants(world, receptionist):
    purchase = buy(world, {world.psychology: 1})

    (proposal,) = propose(world, purchase, receptionist).proposals

    assert proposal.start == datetime(2027, 3, 22, 12, 0, tzinfo=UTC)


def test_the_window_is_read_in_the_locations_own_zone(world, receptionist):
    # Punta Arenas stays at UTC-3 all year: when Santiago's clocks go back, its 09:00 does not move in UTC.
    world.location.time_zone = "America/Punta_Arenas"
    world.location.save()
    purchase = buy(world, {world.psychology: 3})

    plan = propose(world, purchase, receptionist, weekdays=[0], time_from=time(9), time_to=time(9, 50))

    assert [p.start for p in plan.proposals] == [
        datetime(2027, 3, 22, 12, tzinfo=UTC),
        datetime(2027, 3, 29, 12, tzinfo=UTC),
        datetime(2027, 4, 5, 12, tzinfo=UTC),
    ]
    assert {p.local_start.strftime("%H:%M %Z") for p in plan.proposals} == {"09:00 -03"}


def test_a_session_must_end_inside_the_window(world, receptionist):
    purchase = buy(world, {world.psychology: 1})

    too_short = propose(world, purchase, receptionist, time_from=time(9), time_to=time(9, 45))

    assert too_short.proposals == ()
    assert [(u.count, u.code) for u in too_short.unplaced] == [(1, "no_free_time")]


def test_holidays_and_time_off_are_the_engines_rules(world, receptionist):
    # Good Friday (26 March 2027) closes the location; Ana is away on Monday 29 March, so Bruno takes that session.
    world.location.observes_public_holidays = True
    world.location.save()
    TimeOffFactory(
        professional=world.ana,
        start=datetime(2027, 3, 29, 0, tzinfo=SANTIAGO),
        end=datetime(2027, 3, 30, 0, tzinfo=SANTIAGO),
    )
    purchase = buy(world, {world.psychology: 3})

    plan = propose(world, purchase, receptionist, weekdays=[0, 4], cadence="asap")

    assert [(local(p.start).date(), p.professional) for p in plan.proposals] == [
        (date(2027, 3, 22), world.ana),
        (date(2027, 3, 29), world.bruno),
        (date(2027, 4, 2), world.ana),
    ]


def test_a_sessions_mapping_of_nothing_is_refused(world, receptionist):
    purchase = buy(world, {world.psychology: 2})

    with pytest.raises(PackError) as refused:
        propose(world, purchase, receptionist, sessions={world.psychology.pk: 0})

    assert refused.value.code == "invalid_quantity"
