"""Replace Wagtail's default "Welcome to your new Wagtail site!" page with the clinic's HomePage.

After a fresh ``migrate`` the default Site's root is a published HomePage titled "Inicio",
so the site works before anyone opens the admin (as in Wagtail's project template).
The new page is added as a sibling first and the Site re-pointed before the welcome page
is deleted, because deleting a Site's root page would delete the Site with it.
"""

from django.db import migrations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # treebeard's materialised-path alphabet
STEPLEN = 4


def _next_child_path(root_path, sibling_paths):
    if not sibling_paths:
        return root_path + "0001"
    last = max(sibling_paths)[-STEPLEN:]
    number = 0
    for char in last:
        number = number * len(ALPHABET) + ALPHABET.index(char)
    number += 1
    segment = ""
    while number:
        number, remainder = divmod(number, len(ALPHABET))
        segment = ALPHABET[remainder] + segment
    return root_path + segment.rjust(STEPLEN, "0")


def create_homepage(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Locale = apps.get_model("wagtailcore", "Locale")
    Page = apps.get_model("wagtailcore", "Page")
    Site = apps.get_model("wagtailcore", "Site")
    HomePage = apps.get_model("website", "HomePage")

    if HomePage.objects.exists():
        return
    root = Page.objects.filter(depth=1).order_by("path").first()
    if root is None:
        return

    page_type = ContentType.objects.filter(app_label="wagtailcore", model="page").first()
    welcome = Page.objects.filter(depth=2, slug="home", content_type=page_type).first() if page_type else None
    locale_id = welcome.locale_id if welcome else Locale.objects.order_by("pk").values_list("pk", flat=True).first()

    home_type, _created = ContentType.objects.get_or_create(app_label="website", model="homepage")
    siblings = list(Page.objects.filter(depth=2, path__startswith=root.path).values_list("path", flat=True))
    home = HomePage.objects.create(
        title="Inicio",
        draft_title="Inicio",
        slug="inicio",
        content_type=home_type,
        path=_next_child_path(root.path, siblings),
        depth=2,
        numchild=0,
        url_path="/inicio/",
        locale_id=locale_id,
        live=True,
        has_unpublished_changes=False,
        show_in_menus=False,
    )

    if welcome is not None:
        Site.objects.filter(root_page=welcome).update(root_page=home)
        if not Page.objects.filter(path__startswith=welcome.path, depth__gt=welcome.depth).exists():
            welcome.delete()
    if not Site.objects.filter(is_default_site=True).exists():
        Site.objects.create(hostname="localhost", port=80, root_page=home, is_default_site=True)

    root.numchild = Page.objects.filter(depth=2, path__startswith=root.path).count()
    root.save(update_fields=["numchild"])


class Migration(migrations.Migration):
    dependencies = [
        ("website", "0001_initial"),
        ("wagtailcore", "0098_apitoken"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_homepage, migrations.RunPython.noop)]
