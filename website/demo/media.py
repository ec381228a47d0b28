"""Generated media for the demo clinic: portrait placeholders and small PDF handouts.

Nothing is downloaded: portraits are drawn with Pillow and PDFs are rendered with weasyprint.
"""

import io

from django.core.files.base import ContentFile
from django.core.files.images import ImageFile
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from wagtail.documents.models import Document
from wagtail.images.models import Image


def _initials(name: str) -> str:
    words = [word for word in name.replace(".", " ").split() if word[:1].isupper() and len(word) > 3]
    return "".join(word[0] for word in words[:2]) or name[:2].upper()


def portrait_png(name: str, color: tuple[int, int, int], size: int = 600) -> bytes:
    """A soft two-tone portrait placeholder with the person's initials."""
    image = PILImage.new("RGB", (size, size), tuple(min(255, c + 60) for c in color))
    draw = ImageDraw.Draw(image)
    draw.ellipse((size * 0.3, size * 0.14, size * 0.7, size * 0.54), fill=color)
    draw.ellipse((size * 0.12, size * 0.58, size * 0.88, size * 1.3), fill=color)
    font = ImageFont.load_default(size=int(size * 0.14))
    draw.text((size / 2, size * 0.34), _initials(name), fill="white", font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def banner_png(seed: str, color: tuple[int, int, int], width: int = 1200, height: int = 630) -> bytes:
    """A wide abstract banner (Open Graph size) for blog posts and the home hero.

    No text is drawn: Pillow's built-in font lacks Spanish accents, and titles are on the page anyway.
    """
    image = PILImage.new("RGB", (width, height), color)
    draw = ImageDraw.Draw(image)
    for step in range(0, height, 6):
        shade = tuple(min(255, c + step // 12) for c in color)
        draw.line([(0, step), (width, step)], fill=shade, width=6)
    offset = sum(map(ord, seed))
    for index in range(5):
        radius = 60 + (offset * (index + 3)) % 160
        x = (offset * (index + 7) * 37) % width
        y = (offset * (index + 5) * 53) % height
        tint = tuple(min(255, c + 40 + index * 12) for c in color)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=tint)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def get_or_create_image(title: str, png: bytes, filename: str) -> Image:
    image = Image.objects.filter(title=title).first()
    if image:
        return image
    image = Image(title=title)
    image.file = ImageFile(io.BytesIO(png), name=filename)
    image.save()
    return image


def handout_pdf(title: str, summary: str, clinic_name: str) -> bytes:
    """A one-page handout in the clinic's style."""
    from django.utils.html import escape
    from weasyprint import HTML

    html = f"""
    <html><head><meta charset="utf-8"><style>
      @page {{ size: A4; margin: 2cm; }}
      body {{ font-family: sans-serif; color: #263238; }}
      h1 {{ color: #2e7d6b; }} footer {{ margin-top: 3cm; font-size: 9pt; color: #607d8b; }}
      td {{ border-bottom: 1px solid #cfd8dc; height: 1.2cm; }} table {{ width: 100%; border-collapse: collapse; }}
    </style></head><body>
      <h1>{escape(title)}</h1><p>{escape(summary)}</p>
      <table>{"<tr><td></td><td></td><td></td></tr>" * 10}</table>
      <footer>{escape(clinic_name)} · material de apoyo para pacientes</footer>
    </body></html>"""
    return HTML(string=html).write_pdf()


def get_or_create_document(title: str, pdf: bytes, filename: str) -> Document:
    document = Document.objects.filter(title=title).first()
    if document:
        return document
    document = Document(title=title)
    document.file.save(filename, ContentFile(pdf), save=False)
    document.save()
    return document
