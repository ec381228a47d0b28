"""Build the demo clinic: catalog, people, pages, posts, resources and a month of sessions. DEMO ONLY.

Idempotent: every step looks its object up by a natural key (slug or email) and creates
it only when missing, so running it twice changes nothing and never duplicates. Content
that an editor changed after the first run is left alone. Databases seeded by earlier
versions are completed (professionals' locations, the month of sessions), not rebuilt.

The sessions (website/demo/sessions.py) are placed around the real clock when the command
runs: a month back, closed and paid, and a month ahead.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from wagtail.models import Page, Site

from blog.models import BlogCategory, BlogIndexPage, BlogPage
from booking.billing.models import BillingSettings, Coupon
from booking.scheduling.models import (
    Location,
    Professional,
    ProfessionalDegree,
    ProfessionalExperience,
    ProfessionalService,
    Room,
    Service,
    ServiceCategory,
    WeeklyAvailability,
)
from portal.accounts import roles
from portal.accounts.services import ensure_patient, mark_email_verified
from resources.models import ResourceCategory, ResourceIndexPage, ResourcePage
from website.clinic.models import ProfessionalIndexPage, ProfessionalPage, ServiceIndexPage, ServicePage
from website.demo import content
from website.demo import media as demo_media
from website.demo.availability import create_demo_availability
from website.demo.care import create_demo_care
from website.demo.documents import create_demo_documents
from website.demo.news import create_demo_news
from website.demo.notes import create_demo_notes
from website.demo.notifications import create_demo_session_number_rules
from website.demo.packs import create_demo_pack_purchase, create_demo_packs
from website.demo.sessions import build_demo_month
from website.management.commands.set_site_url import apply_site_url
from website.models import FooterLink, HomePage, NavigationSettings, SiteSettings, StandardPage

# Weekdays (Monday = 0) a professional with two locations spends at the second one.
LATE_WEEK = (3, 4)
PROFESSIONAL_LOCATIONS = {data["slug"]: data["locations"] for data in content.PROFESSIONALS}

ROLE_GROUPS = {
    "editor": roles.EDITORS,
    "receptionist": roles.RECEPTIONISTS,
    "professional": roles.PROFESSIONALS,
    "patient": roles.PATIENTS,
}


class Command(BaseCommand):
    help = "Create (or complete) the demo clinic. Safe to run again. DEMO ONLY: prints the demo logins."

    def handle(self, *args, **options):
        with transaction.atomic():
            roles.ensure_role_groups()
            users = self.create_accounts()
            categories, services, locations = self.create_catalog()
            professionals = self.create_professionals(services, locations, users)
            self.create_weekly_hours(professionals)
            home = self.home_page()
            legal = self.create_standard_pages(home)
            self.create_site_settings(home, legal)
            self.create_service_pages(home, services)
            self.create_professional_pages(home, professionals)
            self.create_blog(home, professionals)
            self.create_resources(home)
            self.fill_home_page(home, categories)
            self.create_billing(services)
            create_demo_packs(services)
            create_demo_session_number_rules()
            booked = build_demo_month(now=timezone.now())
            create_demo_pack_purchase(now=timezone.now())
            create_demo_documents(now=timezone.now())
            create_demo_notes(now=timezone.now())
            create_demo_news(now=timezone.now())
            create_demo_availability(now=timezone.now())
            create_demo_care(now=timezone.now())
        if booked:
            self.stdout.write(f"Booked {len(booked)} demo sessions around today (a month back, a month ahead).")
        self.print_logins()

    # People -------------------------------------------------------------------------------

    def create_accounts(self):
        User = get_user_model()
        users = {}
        demo_password = None  # hashed once: the accounts share it, and each hash takes a quarter of a second
        for email, first_name, last_name, role in content.ACCOUNTS:
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                user = User(email=email, first_name=first_name, last_name=last_name, preferred_language="es-cl")
                demo_password = demo_password or make_password(content.DEMO_PASSWORD)
                user.password = demo_password
                if role == "admin":
                    user.is_staff = user.is_superuser = True
                if role in ("editor", "receptionist"):
                    user.is_staff = True
                user.save()
            mark_email_verified(user)
            if role in ROLE_GROUPS:
                user.groups.add(Group.objects.get(name=ROLE_GROUPS[role]))
            if role == "patient":
                patient = ensure_patient(user)
                if not patient.rut:
                    rut, phone, birth_date = content.PATIENTS[email]
                    patient.rut, patient.phone = rut, phone
                    patient.birth_date = datetime.date.fromisoformat(birth_date)
                    patient.save()
            users[email] = user
        return users

    # Catalog ------------------------------------------------------------------------------

    def create_catalog(self):
        categories = {}
        for order, data in enumerate(content.CATEGORIES):
            categories[data["slug"]], _ = ServiceCategory.objects.get_or_create(
                slug=data["slug"],
                defaults={"name": data["name"], "description": data["description"], "sort_order": order},
            )
        services = {}
        for order, data in enumerate(content.SERVICES):
            defaults = {key: value for key, value in data.items() if key not in ("slug", "category")}
            defaults.update(category=categories[data["category"]], sort_order=order)
            services[data["slug"]], _ = Service.objects.get_or_create(slug=data["slug"], defaults=defaults)
        locations = {}
        for order, data in enumerate(content.LOCATIONS):
            defaults = {key: value for key, value in data.items() if key not in ("slug", "rooms")}
            defaults["sort_order"] = order
            location, _ = Location.objects.get_or_create(slug=data["slug"], defaults=defaults)
            for room_name in data["rooms"]:
                Room.objects.get_or_create(location=location, name=room_name)
            locations[data["slug"]] = location
        return categories, services, locations

    def create_professionals(self, services, locations, users):
        professionals = {}
        for order, data in enumerate(content.PROFESSIONALS):
            professional = Professional.objects.filter(slug=data["slug"]).first()
            if professional is None:
                photo = demo_media.get_or_create_image(
                    f"Foto {data['display_name']}",
                    demo_media.portrait_png(data["display_name"], data["color"]),
                    f"{data['slug']}.png",
                )
                professional = Professional(
                    slug=data["slug"],
                    display_name=data["display_name"],
                    title=data["title"],
                    rut=data["rut"],
                    bio=data["bio"],
                    photo=photo,
                    user=users.get(data.get("user_email")),
                    daily_agenda_email=data.get("daily_agenda_email", False),
                    availability_self_service=data.get("availability_self_service", "none"),
                    sort_order=order,
                )
                professional.save()
                for position, slug in enumerate(data["services"]):
                    ProfessionalService.objects.create(
                        professional=professional, service=services[slug], sort_order=position
                    )
                for position, (title, institution, year) in enumerate(data["degrees"]):
                    ProfessionalDegree.objects.create(
                        professional=professional, title=title, institution=institution, year=year, sort_order=position
                    )
                for position, (role, organisation, period) in enumerate(data["experience"]):
                    ProfessionalExperience.objects.create(
                        professional=professional,
                        role=role,
                        organisation=organisation,
                        period=period,
                        sort_order=position,
                    )
            self.ensure_locations(professional, [locations[slug] for slug in data["locations"]])
            professionals[data["slug"]] = professional
        return professionals

    def ensure_locations(self, professional, locations):
        """Give a professional with no locations the demo's ones, and COMMIT them.

        ``locations`` is a ParentalManyToManyField: ``.set()`` only changes the in-memory cluster, and the rows
        are written by the next ``save()``. Earlier versions of this seed called ``.set()`` after saving, so
        their professionals have no locations: the admin's "Sedes" column is empty and the booking box offers
        only online sessions. Running the seed again repairs those databases; locations an editor set are kept.
        """
        if Professional.locations.through.objects.filter(professional=professional).exists():
            return
        professional.locations.set(locations)
        professional.save()

    def create_weekly_hours(self, professionals):
        """Weekday hours in person (09:00–13:00, 14:30–19:00); online on Saturday morning.

        A professional who works at two locations is at the first Monday to Wednesday and at the second on
        Thursday and Friday, so that every location they list can be booked.
        """
        for slug, professional in professionals.items():
            places = [Location.objects.get(slug=place) for place in PROFESSIONAL_LOCATIONS[slug]]
            if professional.weekly_availability.exists():
                self.move_late_week_to_second_location(professional, places)
                continue
            rows = [
                WeeklyAvailability(
                    professional=professional,
                    location=self.location_on(day, places),
                    weekday=day,
                    start_time=start,
                    end_time=end,
                )
                for day in range(5)
                for start, end in ((datetime.time(9), datetime.time(13)), (datetime.time(14, 30), datetime.time(19)))
            ]
            rows.append(
                WeeklyAvailability(
                    professional=professional,
                    location=None,
                    weekday=5,
                    start_time=datetime.time(9),
                    end_time=datetime.time(13),
                )
            )
            WeeklyAvailability.objects.bulk_create(rows)

    @staticmethod
    def location_on(weekday: int, places: list[Location]) -> Location:
        return places[1] if len(places) > 1 and weekday in LATE_WEEK else places[0]

    def move_late_week_to_second_location(self, professional, places):
        """Repair hours an earlier seed put all at the first location: Thursday and Friday go to the second.

        Only when the second location has no hours at all (an editor's arrangement is left alone).
        """
        if len(places) < 2 or professional.weekly_availability.filter(location=places[1]).exists():
            return
        professional.weekly_availability.filter(location=places[0], weekday__in=LATE_WEEK).update(location=places[1])

    def create_billing(self, services):
        """The clinic's billing details and two discount codes (the sessions' invoices come with their booking)."""
        site = Site.objects.get(is_default_site=True)
        billing = BillingSettings.for_site(site)
        if not billing.legal_name:
            for field, value in content.BILLING.items():
                setattr(billing, field, value)
            billing.save()
        for code, description, kind, value, service_slugs in content.COUPONS:
            coupon, created = Coupon.objects.get_or_create(
                code=code, defaults={"description": description, "kind": kind, "value": Decimal(value)}
            )
            if created and service_slugs:
                coupon.services.set([services[slug] for slug in service_slugs])

    # Pages --------------------------------------------------------------------------------

    def home_page(self) -> HomePage:
        site = Site.objects.get(is_default_site=True)
        return site.root_page.specific

    def add_page(self, parent: Page, page: Page) -> Page:
        """Create ``page`` under ``parent`` unless a child with its slug exists; publish a revision."""
        existing = parent.get_children().filter(slug=page.slug).first()
        if existing:
            return existing.specific
        parent.add_child(instance=page)
        page.save_revision().publish()
        return page

    def create_standard_pages(self, home):
        about = StandardPage(
            title="Nosotros",
            slug="nosotros",
            show_in_menus=True,
            intro="Somos un equipo de psicología y nutrición que trabaja en conjunto desde 2017.",
            body=[
                ("heading", {"text": "Nuestra forma de trabajar", "level": "h2"}),
                (
                    "paragraph",
                    "<p>Creemos que la salud mental y la alimentación van de la mano. Por eso nuestras "
                    "profesionales se reúnen cada semana para revisar casos en conjunto, siempre con tu "
                    "consentimiento.</p>",
                ),
                ("quote", {"text": "Te escuchamos sin juicios y a tu ritmo.", "attribution": "Equipo Equilibrio"}),
            ],
        )
        privacy = StandardPage(
            title="Política de privacidad",
            slug="politica-de-privacidad",
            intro="Cómo tratamos tus datos personales y de salud, según la Ley 19.628 y la Ley 20.584.",
            body=[
                (
                    "paragraph",
                    "<p>Usamos tus datos solo para agendar y realizar tus atenciones, emitir boletas y "
                    "enviarte recordatorios. Tu ficha clínica es confidencial: solo la ven tus profesionales "
                    "tratantes.</p><p>Puedes pedir acceso, rectificación o eliminación de tus datos escribiendo "
                    "a contacto@equilibrio.demo.clinic.</p>",
                )
            ],
        )
        terms = StandardPage(
            title="Términos y condiciones",
            slug="terminos-y-condiciones",
            intro="Las condiciones de uso del sitio y de la reserva de horas.",
            body=[
                (
                    "paragraph",
                    "<p>Las horas se pueden cancelar o cambiar sin costo hasta 24 horas antes. Las sesiones "
                    "no asistidas sin aviso se cobran completas.</p>",
                )
            ],
        )
        self.add_page(home, about)
        return {"privacy": self.add_page(home, privacy), "terms": self.add_page(home, terms)}

    def create_site_settings(self, home, legal):
        site = Site.objects.get(is_default_site=True)
        site_settings = SiteSettings.for_site(site)
        if not site_settings.clinic_name or site_settings.privacy_policy_page_id is None:
            site_settings.clinic_name = content.CLINIC["clinic_name"]
            site_settings.email = content.CLINIC["contact_email"]
            for field in ("phone", "whatsapp", "address", "opening_hours", "instagram_url", "facebook_url"):
                setattr(site_settings, field, content.CLINIC[field])
            for field in ("booking_heading", "booking_intro", "booking_policy_text"):
                setattr(site_settings, field, content.CLINIC[field])
            site_settings.privacy_policy_page = legal["privacy"]
            site_settings.terms_page = legal["terms"]
            site_settings.save()
        navigation = NavigationSettings.for_site(site)
        if not navigation.footer_links.exists():
            for order, page in enumerate((legal["privacy"], legal["terms"])):
                FooterLink.objects.create(setting=navigation, link_page=page, label="", sort_order=order)
        apply_site_url(settings.SITE_URL)
        site.refresh_from_db()
        if site.site_name != content.CLINIC["clinic_name"]:
            site.site_name = content.CLINIC["clinic_name"]
            site.save()

    def create_service_pages(self, home, services):
        index = self.add_page(
            home,
            ServiceIndexPage(
                title="Servicios",
                slug="servicios",
                show_in_menus=True,
                intro="<p>Psicología y nutrición, en nuestras sedes o en línea.</p>",
            ),
        )
        for service in services.values():
            self.add_page(
                index,
                ServicePage(
                    title=service.name,
                    slug=service.slug,
                    service=service,
                    intro=f"<p>{service.description}</p>",
                    search_description=service.description[:150],
                ),
            )

    def create_professional_pages(self, home, professionals):
        index = self.add_page(
            home,
            ProfessionalIndexPage(
                title="Equipo",
                slug="equipo",
                show_in_menus=True,
                intro="<p>Psicólogas, psicólogos y nutricionistas con formación de postgrado.</p>",
            ),
        )
        for professional in professionals.values():
            self.add_page(
                index,
                ProfessionalPage(
                    title=professional.display_name,
                    slug=professional.slug,
                    professional=professional,
                    search_description=professional.title,
                ),
            )

    def create_blog(self, home, professionals):
        index = self.add_page(
            home,
            BlogIndexPage(
                title="Blog", slug="blog", show_in_menus=True, intro="<p>Ideas prácticas para tu bienestar.</p>"
            ),
        )
        categories = {}
        for slug, name in content.BLOG_CATEGORIES:
            categories[slug], _ = BlogCategory.objects.get_or_create(slug=slug, defaults={"name": name})
        palette = [(46, 125, 107), (94, 129, 172), (208, 135, 112), (129, 161, 120), (180, 142, 173), (76, 86, 106)]
        for number, data in enumerate(content.BLOG_POSTS):
            if index.get_children().filter(slug=data["slug"]).exists():
                continue
            image = demo_media.get_or_create_image(
                f"Portada {data['title']}",
                demo_media.banner_png(data["title"], palette[number % len(palette)]),
                f"{data['slug']}.png",
            )
            post = BlogPage(
                title=data["title"],
                slug=data["slug"],
                date=datetime.date.fromisoformat(data["date"]),
                author=professionals[data["author"]],
                excerpt=data["excerpt"],
                featured_image=image,
                body=[("paragraph", f"<p>{paragraph}</p>") for paragraph in data["paragraphs"]],
            )
            index.add_child(instance=post)
            post.categories.set([categories[slug] for slug in data["categories"]])
            post.tags.add(*data["tags"])
            post.save_revision().publish()

    def create_resources(self, home):
        index = self.add_page(
            home,
            ResourceIndexPage(
                title="Recursos",
                slug="recursos",
                show_in_menus=True,
                intro="<p>Guías, ejercicios y enlaces útiles. Algunos son solo para pacientes.</p>",
            ),
        )
        categories = {}
        for slug, name in content.RESOURCE_CATEGORIES:
            categories[slug], _ = ResourceCategory.objects.get_or_create(slug=slug, defaults={"name": name})
        for data in content.RESOURCES:
            page = ResourcePage(
                title=data["title"],
                slug=data["slug"],
                kind=data["kind"],
                category=categories[data["category"]],
                audience=data["audience"],
                summary=data["summary"],
                video_url=data.get("video_url", ""),
                external_url=data.get("external_url", ""),
            )
            if data["kind"] == "document":
                if index.get_children().filter(slug=data["slug"]).exists():
                    continue
                page.document = demo_media.get_or_create_document(
                    data["document_title"],
                    demo_media.handout_pdf(data["document_title"], data["summary"], content.CLINIC["clinic_name"]),
                    f"{data['slug']}.pdf",
                )
            self.add_page(index, page)

    def fill_home_page(self, home, categories):
        if home.body:
            return
        home.title = "Inicio"
        home.hero_heading = "Cuidamos tu mente y tu alimentación"
        home.hero_subheading = (
            "Psicología y nutrición en Providencia, Viña del Mar y en línea. Agenda tu hora en minutos."
        )
        home.hero_cta_label = "Conoce al equipo"
        home.hero_cta_page = Page.objects.filter(slug="equipo").first()
        home.hero_image = demo_media.get_or_create_image(
            "Portada Centro Equilibrio",
            demo_media.banner_png("Centro Equilibrio · Psicología y Nutrición", (46, 125, 107)),
            "portada.png",
        )
        home.intro = (
            "<p>Un equipo de psicólogas, psicólogos y nutricionistas que trabaja en conjunto para acompañarte.</p>"
        )
        home.search_description = "Psicología y nutrición en Santiago, Viña del Mar y en línea."
        home.body = [
            (
                "booking_box",
                {
                    "heading": "",
                    "intro": "",
                    "show_prices": True,
                    "layout": "compact",
                    "allow_changes": True,
                    "offer_packs": "public",  # the demo's packs (website/demo/packs.py) under the services
                },
            ),
            ("services_list", {"heading": "Psicología", "category": categories["psicologia"], "limit": None}),
            ("services_list", {"heading": "Nutrición", "category": categories["nutricion"], "limit": None}),
            ("professionals_grid", {"heading": "Nuestro equipo", "service": None, "limit": 6}),
            (
                "call_to_action",
                {
                    "title": "¿No sabes por dónde empezar?",
                    "text": "Escríbenos y te orientamos sin costo sobre qué profesional se ajusta a lo que buscas.",
                    "button_label": "Conócenos",
                    "page": Page.objects.filter(slug="nosotros").first(),
                    "url": "",
                },
            ),
            (
                "faq",
                {
                    "heading": "Preguntas frecuentes",
                    "items": [{"question": q, "answer": f"<p>{a}</p>"} for q, a in content.FAQ],
                },
            ),
            ("latest_posts", {"heading": "Del blog", "number_of_posts": 3}),
        ]
        home.save_revision().publish()

    # Output -------------------------------------------------------------------------------

    def print_logins(self):
        self.stdout.write(
            self.style.SUCCESS(f"Demo clinic ready. DEMO ONLY accounts (password for all: {content.DEMO_PASSWORD}):")
        )
        for email, first_name, last_name, role in content.ACCOUNTS:
            self.stdout.write(f"  {role:<13} {email:<27} {first_name} {last_name}")
        self.stdout.write("Staff and professionals enrol an authenticator app (TOTP) right after their first login.")
