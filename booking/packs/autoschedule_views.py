"""Auto-scheduling a pack in the Wagtail admin: a form, a preview with swaps, one confirm for every session.

From a purchase's page, staff open "Auto-schedule": they choose professionals (only those who offer the pack's
services and whom the pack allows), places, a start date, weekdays, a time window, a cadence and whether to keep one
session a day. The preview lists every proposed session (local date and time with the zone, service, professional,
place) and, for each, other free times to swap in. Confirming books them all in one transaction
(``services.confirm_schedule``); if the calendar changed meanwhile nothing is booked and the preview comes back
listing the sessions no longer free, each with alternatives.

The plan travels between the steps as a signed hidden value (``services.sign_plan``); reading it back re-reads and
re-checks every id, and confirming re-checks everything under the locks. A tampered or stale value, like any other
refusal (``PackError``), comes back as a message on the page, never as a 500. Every step is a POST with CSRF.

===========================  ==================================================================
open and use the pages        ``packs.view_packagepurchase`` and ``scheduling.change_appointment``
===========================  ==================================================================
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import include, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.widgets import AdminDateInput, AdminTimeInput

from booking.scheduling.models import Location, Professional, Service
from booking.scheduling.services import ACT_FOR_CLINIC_PERMISSION
from booking.scheduling.timefmt import format_local_time

from . import services
from .admin_views import VIEW_PERMISSION, PurchaseAdminView
from .errors import PackError
from .models import LIVE_STATUSES, PackagePurchase

ONLINE = "online"
WEEKDAY_CHOICES = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]
CADENCE_CHOICES = [
    ("weekly", _("Every week")),
    ("biweekly", _("Every two weeks")),
    ("asap", _("As soon as possible")),
]


class AutoScheduleForm(forms.Form):
    """What the plan should look like; the choices are narrowed to what the purchase allows."""

    professionals = forms.ModelMultipleChoiceField(
        label=_("Professionals"),
        queryset=Professional.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one professional.")},
    )
    locations = forms.MultipleChoiceField(
        label=_("Places"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave empty for any place where the professionals work."),
    )
    start_date = forms.DateField(label=_("Start date"), widget=AdminDateInput)
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays"),
        choices=WEEKDAY_CHOICES,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one weekday.")},
    )
    time_from = forms.TimeField(label=_("From"), widget=AdminTimeInput)
    time_to = forms.TimeField(label=_("Until"), widget=AdminTimeInput)
    cadence = forms.ChoiceField(label=_("How often"), choices=CADENCE_CHOICES, widget=forms.RadioSelect)
    one_per_day = forms.BooleanField(label=_("At most one session a day"), required=False, initial=True)

    def __init__(self, *args, purchase: PackagePurchase, now, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now
        service_ids = purchase.service_ids
        professionals = Professional.objects.filter(
            active=True, offered_services__service_id__in=service_ids
        ).distinct()
        if purchase.allowed_professional_ids:
            professionals = professionals.filter(pk__in=purchase.allowed_professional_ids)
        self.fields["professionals"].queryset = professionals.order_by("display_name", "pk")
        places = [
            (str(location.pk), location.name)
            for location in Location.objects.filter(
                active=True, professionals__in=professionals.values("pk")
            ).distinct()
        ]
        if Service.objects.filter(pk__in=service_ids, active=True).exclude(modality="in_person").exists():
            places.append((ONLINE, gettext("Online")))
        self.fields["locations"].choices = places

    def clean_start_date(self):
        start_date = self.cleaned_data["start_date"]
        if start_date < timezone.localdate(self.now):
            raise forms.ValidationError(_("The start date cannot be in the past."))
        return start_date

    def clean(self):
        cleaned_data = super().clean()
        time_from, time_to = cleaned_data.get("time_from"), cleaned_data.get("time_to")
        if time_from is not None and time_to is not None and time_from >= time_to:
            self.add_error("time_to", _("The time window must end after it starts."))
        return cleaned_data

    def propose_kwargs(self) -> dict:
        data = self.cleaned_data
        places = data.get("locations") or []
        return {
            "professionals": list(data["professionals"]),
            "locations": [None if place == ONLINE else int(place) for place in places] or None,
            "start_date": data["start_date"],
            "weekdays": data["weekdays"],
            "time_from": data["time_from"],
            "time_to": data["time_to"],
            "cadence": data["cadence"],
            "one_per_day": data["one_per_day"],
        }


def describe(proposal: services.Proposal) -> dict:
    """A proposal as the preview shows it: local date and time with the zone, service, professional, place."""
    local_start = proposal.local_start
    offset = local_start.strftime("%z")
    return {
        "proposal": proposal,
        "when": format_local_time(local_start, "l j F Y, H:i"),
        "short": format_local_time(local_start, "D j M Y, H:i"),
        "until": format_local_time(proposal.local_end, "H:i"),
        "zone": f"{proposal.zone.key} (UTC{offset[:3]}:{offset[3:]})",
        "place": proposal.location.name if proposal.location else gettext("Online"),
    }


class AutoScheduleView(PurchaseAdminView):
    """GET: the form. POST ``propose``: the preview. POST ``swap``: the preview with one session swapped. POST
    ``confirm``: book them all, or the preview again with the conflicts."""

    template_name = "packs/admin/autoschedule_form.html"
    preview_template_name = "packs/admin/autoschedule_preview.html"
    header_icon = "date"

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not (user.has_perm(VIEW_PERMISSION) and user.has_perm(ACT_FOR_CLINIC_PERMISSION)):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def now(self):
        return timezone.now()

    @cached_property
    def purchase(self) -> PackagePurchase:
        return get_object_or_404(
            PackagePurchase.objects.select_related("patient__user"), reference=self.kwargs["reference"]
        )

    def get_page_title(self):
        return gettext("Auto-schedule pack %(reference)s") % {"reference": self.purchase.reference}

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse("packs_purchases:index"), "label": gettext("Pack purchases")},
            {
                "url": reverse("packs_purchases:detail", args=[self.purchase.reference]),
                "label": gettext("Pack %(reference)s") % {"reference": self.purchase.reference},
            },
            {"url": "", "label": gettext("Auto-schedule")},
        ]

    def detail_url(self) -> str:
        return reverse("packs_purchases:detail", args=[self.purchase.reference])

    def new_form(self, data=None) -> AutoScheduleForm:
        local_today = timezone.localdate(self.now)
        initial = {
            "start_date": local_today + timedelta(days=1),
            "weekdays": [0, 1, 2, 3, 4],
            "time_from": "09:00",
            "time_to": "13:00",
            "cadence": "weekly",
            "one_per_day": True,
        }
        form = AutoScheduleForm(data, purchase=self.purchase, now=self.now, initial=initial)
        if data is None:
            form.initial["professionals"] = list(form.fields["professionals"].queryset.values_list("pk", flat=True))
        return form

    def render_form(self, form: AutoScheduleForm, *, status: int = 200):
        usable = self.purchase.status in LIVE_STATUSES and not self.purchase.has_expired(self.now)
        context = self.get_context_data(purchase=self.purchase, form=form, usable=usable, detail_url=self.detail_url())
        response = self.render_to_response(context)
        response.status_code = status
        return response

    def render_preview(self, plan: services.SchedulePlan, *, failures=None, status: int = 200):
        failures = {failure.index: failure for failure in (failures or ())}
        try:
            alternatives = services.plan_alternatives(plan=plan, actor=self.request.user, now=self.now)
        except PackError as error:
            messages.error(self.request, error.message)
            return self.render_form(self.new_form())
        rows = []
        for index, proposal in enumerate(plan.proposals):
            failure = failures.get(index)
            options = failure.alternatives if failure is not None and failure.alternatives else alternatives[index]
            rows.append(
                {
                    **describe(proposal),
                    "index": index,
                    "failure": failure,
                    "alternatives": [
                        {**describe(option), "token": services.sign_proposal(plan.purchase, option)}
                        for option in options
                    ],
                }
            )
        context = self.get_context_data(
            purchase=self.purchase,
            plan=plan,
            plan_value=services.sign_plan(plan),
            rows=rows,
            conflicts=bool(failures),
            detail_url=self.detail_url(),
            form_url=reverse("packs_autoschedule:form", args=[self.purchase.reference]),
        )
        self.template_name = self.preview_template_name
        response = self.render_to_response(context)
        response.status_code = status
        return response

    def get(self, request, reference):
        return self.render_form(self.new_form())

    def post(self, request, reference):
        if "confirm" in request.POST:
            return self.confirm()
        if "swap" in request.POST:
            return self.swap()
        return self.propose()

    def propose(self):
        form = self.new_form(self.request.POST)
        if not form.is_valid():
            return self.render_form(form)
        try:
            plan = services.propose_schedule(
                purchase=self.purchase, actor=self.request.user, now=self.now, **form.propose_kwargs()
            )
        except PackError as error:
            form.add_error(None, error.message)
            return self.render_form(form)
        return self.render_preview(plan)

    def posted_plan(self) -> services.SchedulePlan | None:
        """The plan of the hidden field, re-checked; None (with a message) when it cannot be trusted."""
        try:
            return services.unsign_plan(self.request.POST.get("plan", ""), purchase=self.purchase)
        except PackError as error:
            messages.error(self.request, error.message)
            return None

    def swap(self):
        plan = self.posted_plan()
        if plan is None:
            return self.render_form(self.new_form())
        try:
            index = int(self.request.POST.get("swap", ""))
            if not 0 <= index < len(plan.proposals):
                raise ValueError(index)
        except ValueError:
            messages.error(self.request, gettext("Choose a session to swap."))
            return self.render_preview(plan)
        token = self.request.POST.get(f"alternative-{index}", "")
        if not token:
            messages.error(self.request, gettext("Choose another time for that session."))
            return self.render_preview(plan)
        try:
            alternative = services.unsign_proposal(token, purchase=self.purchase, plan=plan)
            plan = services.replace_proposal(plan, index, alternative)
        except PackError as error:
            messages.error(self.request, error.message)
            return self.render_preview(plan)
        messages.success(self.request, gettext("Session moved. Nothing is booked until you confirm."))
        return self.render_preview(plan)

    def confirm(self):
        plan = self.posted_plan()
        if plan is None:
            return self.render_form(self.new_form())
        try:
            appointments = services.confirm_schedule(
                purchase=self.purchase, proposals=plan.proposals, actor=self.request.user, source="admin", now=self.now
            )
        except services.ScheduleConflict as conflict:
            messages.error(self.request, conflict.message)
            return self.render_preview(plan, failures=conflict.failures, status=409)
        except PackError as error:
            messages.error(self.request, error.message)
            return self.render_preview(plan)
        count = len(appointments)
        messages.success(
            self.request,
            ngettext("%(count)d session booked from the pack.", "%(count)d sessions booked from the pack.", count)
            % {"count": count},
        )
        return HttpResponseRedirect(self.detail_url())


def get_urlpatterns():
    """Mounted under the admin by ``wagtail_hooks`` (``register_admin_urls``), namespace ``packs_autoschedule``."""
    urls = [path("<str:reference>/", AutoScheduleView.as_view(), name="form")]
    return [path("packs/autoschedule/", include((urls, "packs_autoschedule")))]
