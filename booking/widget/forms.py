"""The booking box's forms. Every step validates all it receives again: query strings are never trusted."""

from __future__ import annotations

from datetime import UTC, date, datetime

from crispy_forms.bootstrap import FieldWithButtons, StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout
from django import forms
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from booking.scheduling.date_range import in_range, out_of_range_message, validate_in_range
from booking.scheduling.models import (
    AppointmentModality,
    Location,
    Professional,
    ProfessionalService,
    Service,
    ServiceCategory,
)

START_FORMAT = "%Y-%m-%dT%H:%MZ"  # a slot's start in UTC, as it travels in the query string


#: The most professionals one box may name (``team``): keeps the address short and the team query bounded.
MAX_TEAM = 20


def format_start(start: datetime) -> str:
    return start.astimezone(UTC).strftime(START_FORMAT)


def clean_start(value: str) -> datetime:
    """A slot's start as ``format_start`` writes it, back to an aware UTC instant; a form error otherwise."""
    try:
        start = datetime.strptime(value or "", START_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise forms.ValidationError(_("That time is not valid.")) from None
    if not in_range(start):
        raise forms.ValidationError(out_of_range_message())
    return start


def clean_month(value: str | None) -> date | None:
    """A ``YYYY-MM`` of the query string as its first day (None when empty); a form error otherwise."""
    if not value:
        return None
    try:
        month = datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise forms.ValidationError(_("That month is not valid.")) from None
    if not in_range(month):
        raise forms.ValidationError(out_of_range_message())
    return month


class ChoiceForm(forms.Form):
    """Service, professional and place, from the query string (step 1, and the base of every later step).

    ``where`` is what the step-1 select sends: ``online`` or a location's slug; it sets ``location`` and
    ``modality``. An empty professional means "first available"; an empty place means "any place".

    ``category`` and ``team`` (comma-separated professional slugs) are the box's own limits, carried through every
    step: a service outside the category or a professional outside the team is refused, because the address can be
    edited by hand. ``lock`` only hides the "change" links; it restricts nothing by itself.
    """

    service = forms.ModelChoiceField(
        Service.objects.filter(active=True),
        to_field_name="slug",
        required=False,
        error_messages={"invalid_choice": _("That service cannot be booked online.")},
    )
    professional = forms.ModelChoiceField(
        Professional.objects.filter(active=True),
        to_field_name="slug",
        required=False,
        error_messages={"invalid_choice": _("That professional cannot be booked online.")},
    )
    location = forms.ModelChoiceField(
        Location.objects.filter(active=True),
        to_field_name="slug",
        required=False,
        error_messages={"invalid_choice": _("That place is not available.")},
    )
    modality = forms.ChoiceField(
        choices=[("", _("Any"))] + list(AppointmentModality.choices),
        required=False,
        error_messages={"invalid_choice": _("Choose in person or online.")},
    )
    where = forms.CharField(required=False, max_length=150)
    category = forms.ModelChoiceField(
        ServiceCategory.objects.all(),
        to_field_name="slug",
        required=False,
        error_messages={"invalid_choice": _("That group of services is not available.")},
    )
    team = forms.CharField(required=False, max_length=MAX_TEAM * 151)
    lock = forms.BooleanField(required=False)
    #: The reference of the patient's pack to book with ("use my pack"); the review checks it is theirs and usable.
    purchase = forms.RegexField(
        regex=r"^[A-Za-z0-9]{1,16}$",
        required=False,
        max_length=16,
        error_messages={"invalid": _("That pack reference is not valid.")},
    )

    def clean_purchase(self) -> str:
        return (self.cleaned_data.get("purchase") or "").upper()

    def clean_team(self) -> list[Professional]:
        """The named professionals in the box's order, read in one query; any unknown or inactive one is refused."""
        slugs = list(dict.fromkeys(slug.strip() for slug in (self.cleaned_data.get("team") or "").split(",")))
        slugs = [slug for slug in slugs if slug]
        if len(slugs) > MAX_TEAM:
            raise forms.ValidationError(
                ngettext_lazy(
                    "A booking box can name at most %(count)d professional.",
                    "A booking box can name at most %(count)d professionals.",
                    "count",
                ),
                params={"count": MAX_TEAM},
            )
        if not slugs:
            return []
        found = Professional.objects.filter(active=True).in_bulk(slugs, field_name="slug")
        missing = [slug for slug in slugs if slug not in found]
        if missing:
            raise forms.ValidationError(
                _("These professionals cannot be booked online: %(slugs)s."), params={"slugs": ", ".join(missing)}
            )
        return [found[slug] for slug in slugs]

    def _clean_box_limits(self, cleaned) -> None:
        """A service outside the box's category, or a professional outside its team, is refused (tampered URL)."""
        service, professional = cleaned.get("service"), cleaned.get("professional")
        category, team = cleaned.get("category"), cleaned.get("team") or []
        if service is not None and category is not None and service.category_id != category.pk:
            self.add_error("service", _("That service cannot be booked from this booking box."))
        if not team:
            return
        if professional is not None and professional.pk not in {member.pk for member in team}:
            self.add_error("professional", _("That professional cannot be booked from this booking box."))
        elif (
            professional is None
            and service is not None
            and not ProfessionalService.objects.filter(service=service, professional__in=team).exists()
        ):
            self.add_error("service", _("No professional of this booking box offers that service."))

    def clean(self):
        cleaned = super().clean()
        self._clean_box_limits(cleaned)
        where = cleaned.get("where") or ""
        if where == AppointmentModality.ONLINE:
            cleaned["location"], cleaned["modality"] = None, AppointmentModality.ONLINE
        elif where:
            location = Location.objects.filter(active=True, slug=where).first()
            if location is None:
                self.add_error("where", _("That place is not available."))
                return cleaned
            cleaned["location"], cleaned["modality"] = location, AppointmentModality.IN_PERSON
        location, modality = cleaned.get("location"), cleaned.get("modality")
        if location is not None:
            if modality == AppointmentModality.ONLINE:
                self.add_error("modality", _("Online sessions do not take place at a location."))
                return cleaned
            cleaned["modality"] = AppointmentModality.IN_PERSON
        service, professional = cleaned.get("service"), cleaned.get("professional")
        if service is not None:
            modality = cleaned.get("modality")
            if modality == AppointmentModality.ONLINE and not service.offers_online:
                self.add_error("modality", _("This service is not offered online."))
            if modality == AppointmentModality.IN_PERSON and not service.offers_in_person:
                self.add_error("modality", _("This service is not offered in person."))
            if (
                professional is not None
                and not ProfessionalService.objects.filter(professional=professional, service=service).exists()
            ):
                self.add_error("professional", _("That professional does not offer this service."))
        if service is not None and cleaned.get("location") is not None and not self.errors:
            self._clean_place(cleaned)
        return cleaned

    def _clean_place(self, cleaned) -> None:
        """A location is possible only if the chosen professional (else one of the team, else anyone offering the
        service) works there: a hand-edited address must not list times at a place nobody chosen works at."""
        location, professional, team = cleaned["location"], cleaned.get("professional"), cleaned.get("team") or []
        working = Professional.objects.filter(
            active=True, locations=location, offered_services__service=cleaned["service"]
        )
        if professional is not None:
            working = working.filter(pk=professional.pk)
        elif team:
            working = working.filter(pk__in=[member.pk for member in team])
        if not working.exists():
            field = "where" if cleaned.get("where") else "location"
            self.add_error(field, _("That place is not available for this service with the chosen professional."))

    def filters(self) -> dict[str, str]:
        """The validated choices as query parameters (empty ones left out)."""
        data = self.cleaned_data
        values = {
            "service": data["service"].slug if data.get("service") else "",
            "professional": data["professional"].slug if data.get("professional") else "",
            "location": data["location"].slug if data.get("location") else "",
            "modality": data.get("modality") or "",
            "category": data["category"].slug if data.get("category") else "",
            "team": ",".join(member.slug for member in data.get("team") or []),
            "lock": "1" if data.get("lock") else "",
            "purchase": data.get("purchase") or "",
        }
        return {key: value for key, value in values.items() if value}


class DateForm(ChoiceForm):
    """Step 2: the month shown and the day whose times are listed, both within ``date_range``."""

    month = forms.CharField(required=False, max_length=7)
    day = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": _("That date is not valid.")},
        validators=[validate_in_range],
    )

    def clean_month(self) -> date | None:
        return clean_month(self.cleaned_data.get("month"))


class SlotForm(ChoiceForm):
    """Steps 4 and 5: one slot, whose professional and place are pinned by the time the patient picked."""

    start = forms.CharField(max_length=20, error_messages={"required": _("Please choose a time.")})

    def clean_start(self) -> datetime:
        return clean_start(self.cleaned_data["start"])

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            if cleaned.get("service") is None:
                self.add_error("service", _("Please choose a service."))
            if cleaned.get("professional") is None:
                self.add_error("professional", _("Please choose a professional."))
            if not cleaned.get("modality"):
                self.add_error("modality", _("Choose in person or online."))
            elif cleaned["modality"] == AppointmentModality.IN_PERSON and cleaned.get("location") is None:
                self.add_error("location", _("Please choose a place."))
        return cleaned

    def filters(self) -> dict[str, str]:
        return {**super().filters(), "start": format_start(self.cleaned_data["start"])}


class ConfirmForm(forms.Form):
    """What the patient adds on the review step."""

    coupon = forms.CharField(label=_("Discount code"), required=False, max_length=50)
    note = forms.CharField(
        label=_("Note for the professional"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional: anything the professional should know before the session."),
    )
    consent = forms.BooleanField(
        label=_("I have read and accept the privacy policy and the cancellation policy."),
        error_messages={"required": _("Please accept the privacy policy to book.")},
    )

    def __init__(
        self,
        *args,
        needs_consent: bool = True,
        privacy_url: str | None = None,
        apply_url: str = "",
        with_coupon: bool = True,
        **kwargs,
    ):
        """``needs_consent`` False: the patient already accepted the privacy policy (at sign-up): not asked twice.

        ``apply_url`` is where htmx posts the "Apply" button (the review's own address); without JavaScript the
        button is a plain submit of the same form with ``action=apply``. ``with_coupon`` False: a session paid
        with a pack has no price to discount, so no code is asked.
        """
        super().__init__(*args, **kwargs)
        fields = [
            FieldWithButtons(
                "coupon",
                StrictButton(
                    gettext("Apply"),
                    type="submit",
                    name="action",
                    value="apply",
                    css_id="apply-coupon",
                    css_class="btn-outline-primary",
                    hx_post=apply_url,
                    hx_disabled_elt="this",
                ),
            ),
            "note",
        ]
        if not with_coupon:
            del self.fields["coupon"]
            fields = fields[1:]
        if needs_consent:
            fields.append("consent")
            if privacy_url:
                self.fields["consent"].label = format_html(
                    gettext(
                        'I have read and accept the <a href="{url}" target="_blank" rel="noopener">privacy policy</a> '
                        "and the cancellation policy."
                    ),
                    url=privacy_url,
                )
        else:
            del self.fields["consent"]
        if with_coupon:
            self.fields["coupon"].widget.attrs["autocomplete"] = "off"
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(*fields)


class PlaceSelect(forms.Select):
    """A select whose options name who works at each place (``data-professionals``): booking.js hides the places
    of the others once a professional is picked. Without JavaScript step 2 checks the pair and comes back."""

    def __init__(self, attrs=None, choices=(), working_at: dict[str, str] | None = None):
        super().__init__(attrs, choices)
        self.working_at = working_at or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex=subindex, attrs=attrs)
        working = self.working_at.get(str(value))
        if working is not None:
            option["attrs"]["data-professionals"] = working
        return option


class OptionsForm(forms.Form):
    """Step 1's visible choice, who and where, built from what is really possible (see ``selectors.Places``).

    Only rendered (crispy-forms): the GET it submits is validated by ``DateForm`` at step 2, like any address.
    """

    professional = forms.ChoiceField(label=_("Professional"), required=False)
    where = forms.ChoiceField(label=_("Where"), required=False, widget=PlaceSelect(attrs={"data-place-select": ""}))

    def __init__(self, *, professionals, chosen, locations, offers_online: bool, location, modality: str):
        """``locations``: (location, slugs of who works there) pairs, in order."""
        super().__init__(auto_id="id_%s")
        people = [
            (member.slug, f"{member.display_name} · {member.title}" if member.title else member.display_name)
            for member in professionals
        ]
        if len(professionals) != 1 or chosen is None:
            people.insert(0, ("", gettext("First available")))
        self.fields["professional"].choices = people
        self.fields["professional"].initial = chosen.slug if chosen is not None else ""
        places = [(item.slug, f"{item.name} · {item.address}") for item, _working in locations]
        if offers_online:
            places.append(("online", gettext("Online (video call)")))
        if len(places) > 1:
            places.insert(0, ("", gettext("Any place")))
        where = self.fields["where"]
        where.choices = places
        where.widget.working_at = {item.slug: working for item, working in locations}
        where.initial = location.slug if location is not None else ("online" if modality == "online" else "")
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout("professional", "where")


class PackCancelForm(forms.Form):
    """The patient's optional reason for cancelling their pack (kept in its ledger and the invoice's history)."""

    reason = forms.CharField(
        label=_("Why are you cancelling? (optional)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
