"""Short notices for the clinic's professionals, shown on their "Today" page (a snippet editors fill)."""

from __future__ import annotations

from datetime import date

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel
from wagtail.fields import RichTextField
from wagtail.search import index

NEWS_FEATURES = ["bold", "italic", "link", "ol", "ul"]


class ProfessionalNewsQuerySet(models.QuerySet):
    def shown_on(self, day: date) -> ProfessionalNewsQuerySet:
        """The notices of ``day``: started on or before it and not ended before it, newest first."""
        return self.filter(Q(show_until__isnull=True) | Q(show_until__gte=day), show_from__lte=day).order_by(
            "-show_from", "-pk"
        )


class ProfessionalNews(index.Indexed, models.Model):
    """A notice for professionals ("the Providencia office is closed on Friday"), shown between two dates."""

    title = models.CharField(_("title"), max_length=120)
    body = RichTextField(_("text"), features=NEWS_FEATURES, blank=True, max_length=2000)
    show_from = models.DateField(_("show from"), default=date.today)
    show_until = models.DateField(
        _("show until"), null=True, blank=True, help_text=_("Empty: until someone removes it.")
    )

    objects = ProfessionalNewsQuerySet.as_manager()

    panels = [
        FieldPanel("title"),
        FieldPanel("body"),
        FieldRowPanel([FieldPanel("show_from"), FieldPanel("show_until")]),
    ]
    search_fields = [index.SearchField("title"), index.AutocompleteField("title")]

    class Meta:
        verbose_name = _("news for professionals")
        verbose_name_plural = _("news for professionals")
        ordering = ["-show_from", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(show_until__isnull=True) | Q(show_until__gte=models.F("show_from")),
                name="website_professionalnews_until_after_from",
                violation_error_message=_("'Show until' cannot be before 'show from'."),
            )
        ]

    def __str__(self):
        return self.title
