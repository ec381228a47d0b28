"""The patient schedules the rest of their pack from the box: preferences, a preview, one confirm for all.

The same use cases as the admin's auto-scheduling (``booking.packs.services.propose_schedule`` and
``confirm_schedule``), with the admin's form narrowed to what the purchase allows (its professionals and places)
and plain date and time inputs. The preview is a GET (it writes nothing, so it can be reloaded and shared with
oneself); confirming is a POST carrying the plan as a signed value (``sign_plan``), which ``unsign_plan`` re-reads
and re-checks, and ``confirm_schedule`` books every session in one transaction. If the calendar changed meanwhile,
nothing is booked and the page lists the sessions no longer free with other free times, so the patient proposes
again. Any refusal (``PackError``) is a message on the page, never a 500.
"""

from __future__ import annotations

from datetime import time, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from booking.http import HttpResponseSeeOther
from booking.packs import services as packs
from booking.packs.autoschedule_views import AutoScheduleForm, describe
from booking.packs.errors import PackError
from booking.packs.models import PackagePurchase, PurchaseStatus
from booking.scheduling.models import AppointmentSource

from .pack_offers import purchase_url


class BoxScheduleForm(AutoScheduleForm):
    """The admin's auto-schedule form with the browser's own date and time inputs (no admin JavaScript here)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_date"].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        self.fields["time_from"].widget = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
        self.fields["time_to"].widget = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _initial(form_class, purchase: PackagePurchase, now) -> dict:
    """Sensible defaults: every allowed professional, from tomorrow, weekdays, 09:00 to 18:00, every week."""
    probe = form_class(purchase=purchase, now=now)
    return {
        "professionals": list(probe.fields["professionals"].queryset),
        "start_date": timezone.localdate(now) + timedelta(days=1),
        "weekdays": [0, 1, 2, 3, 4],
        "time_from": time(9),
        "time_to": time(18),
        "cadence": "weekly",
        "one_per_day": True,
    }


def _page(request, purchase, form, *, plan=None, failures=(), error: str = "", status: int = 200):
    failing = {failure.index: failure for failure in failures}
    rows = []
    if plan is not None:
        for index, proposal in enumerate(plan.proposals):
            failure = failing.get(index)
            rows.append(
                {
                    **describe(proposal),
                    "failure": failure.message if failure else "",
                    "alternatives": [describe(item) for item in failure.alternatives] if failure else [],
                }
            )
    context = {
        "purchase": purchase,
        "form": form,
        "plan": plan,
        "rows": rows,
        "plan_value": packs.sign_plan(plan) if plan is not None and plan.proposals and not failures else "",
        "error": error,
        "purchase_url": purchase_url(purchase),
    }
    return render(request, "widget/pack_schedule.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def schedule(request, reference: str):
    """GET: the preferences, and with them (``preview=1``) the proposed sessions; POST: book them all or none."""
    purchase = get_object_or_404(
        PackagePurchase.objects.select_related("patient"),
        reference=reference.upper(),
        patient__user_id=request.user.pk,
    )
    now = timezone.now()
    if purchase.status != PurchaseStatus.ACTIVE or purchase.has_expired(now):
        messages.error(request, gettext("This pack has no sessions to schedule now."))
        return HttpResponseSeeOther(purchase_url(purchase))
    if request.method == "POST":
        return _confirm(request, purchase, now=now)
    if request.GET.get("preview"):
        form = BoxScheduleForm(request.GET, purchase=purchase, now=now)
        if not form.is_valid():
            return _page(request, purchase, form, status=400)
        try:
            plan = packs.propose_schedule(purchase=purchase, actor=request.user, now=now, **form.propose_kwargs())
        except PackError as error:
            return _page(request, purchase, form, error=error.message, status=400)
        return _page(request, purchase, form, plan=plan)
    form = BoxScheduleForm(purchase=purchase, now=now, initial=_initial(BoxScheduleForm, purchase, now))
    return _page(request, purchase, form)


def _confirm(request, purchase: PackagePurchase, *, now):
    form = BoxScheduleForm(purchase=purchase, now=now, initial=_initial(BoxScheduleForm, purchase, now))
    try:
        plan = packs.unsign_plan(request.POST.get("plan", ""), purchase=purchase)
    except PackError as error:
        return _page(request, purchase, form, error=error.message, status=400)
    form = BoxScheduleForm(purchase=purchase, now=now, initial=_plan_initial(plan))
    try:
        booked = packs.confirm_schedule(
            purchase=purchase,
            proposals=plan.proposals,
            actor=request.user,
            source=AppointmentSource.BOOKING_BOX,
            now=now,
        )
    except packs.ScheduleConflict as conflict:
        return _page(
            request, purchase, form, plan=plan, failures=conflict.failures, error=conflict.message, status=409
        )
    except PackError as error:
        return _page(request, purchase, form, error=error.message, status=409)
    messages.success(
        request,
        ngettext("%(count)d session is booked.", "%(count)d sessions are booked.", len(booked))
        % {"count": len(booked)},
    )
    return HttpResponseSeeOther(reverse("widget:pack_purchase", kwargs={"reference": purchase.reference}))


def _plan_initial(plan) -> dict:
    """The preferences a plan was proposed with, to propose again from the same ones after a conflict."""
    asked = plan.request
    return {
        "professionals": list(asked.professional_ids),
        "locations": ["online" if pk is None else str(pk) for pk in asked.location_ids or ()],
        "start_date": asked.start_date,
        "weekdays": list(asked.weekdays),
        "time_from": asked.time_from,
        "time_to": asked.time_to,
        "cadence": asked.cadence,
        "one_per_day": asked.one_per_day,
    }
