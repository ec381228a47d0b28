"""Content of the demo clinic (Spanish, as the clinic writes it). DEMO ONLY.

Kept as plain data so the seed command stays a short list of get-or-create steps.
"""

from decimal import Decimal

DEMO_PASSWORD = "demo1234!demo"

CLINIC = {
    "clinic_name": "Centro Equilibrio",
    "contact_email": "contacto@equilibrio.demo.clinic",
    "phone": "+56 2 2345 6789",
    "whatsapp": "+56 9 8765 4321",
    "address": "Av. Providencia 1650, oficina 804, Providencia, Santiago",
    "opening_hours": "Lunes a viernes de 09:00 a 20:00 · Sábados de 09:00 a 14:00",
    "instagram_url": "https://www.instagram.com/centroequilibrio.demo",
    "facebook_url": "https://www.facebook.com/centroequilibrio.demo",
    "linkedin_url": "",
    "youtube_url": "",
    "booking_heading": "Agenda tu hora",
    "booking_intro": "Elige el servicio, la profesional y el horario que te acomode. Te confirmamos al instante.",
    "booking_policy_text": (
        "Puedes cancelar o cambiar tu hora sin costo hasta 24 horas antes. "
        "Después de ese plazo la sesión se cobra completa."
    ),
}

BILLING = {
    "legal_name": "Centro Equilibrio SpA",
    "tax_id": "76.543.210-3",
    "business_activity": "Servicios de psicología y nutrición",
    "address": "Av. Providencia 1650, oficina 804\nProvidencia, Santiago",
    "transfer_instructions": (
        "Banco Demo · Cuenta corriente 00-123-45678-9 · Centro Equilibrio SpA · RUT 76.543.210-3 · "
        "envía el comprobante a pagos@equilibrio.demo.clinic"
    ),
    "receipt_footer": "Gracias por confiar en Centro Equilibrio. Prestaciones de salud exentas de IVA.",
}

# Demo discount codes: (code, description, kind, value, only for these service slugs; empty = all).
COUPONS = [
    ("BIENVENIDA10", "10 % en la primera sesión", "percent", 10, []),
    ("NUTRI5000", "$5.000 de descuento en controles nutricionales", "amount", 5000, ["control-nutricional"]),
]

CATEGORIES = [
    {"slug": "psicologia", "name": "Psicología", "description": "Psicoterapia para adultos, adolescentes y parejas."},
    {"slug": "nutricion", "name": "Nutrición", "description": "Alimentación saludable, deportiva y clínica."},
]

LOCATIONS = [
    {
        "slug": "providencia",
        "name": "Sede Providencia",
        "address": "Av. Providencia 1650, oficina 804",
        "city": "Providencia",
        "region": "Región Metropolitana",
        "phone": "+56 2 2345 6789",
        "email": "providencia@equilibrio.demo.clinic",
        "directions": "A pasos del Metro Pedro de Valdivia (Línea 1). Estacionamiento en el edificio.",
        "rooms": ["Box 1", "Box 2", "Box 3"],
    },
    {
        "slug": "vina-del-mar",
        "name": "Sede Viña del Mar",
        "address": "Av. Libertad 1405, oficina 302",
        "city": "Viña del Mar",
        "region": "Región de Valparaíso",
        "phone": "+56 32 234 5678",
        "email": "vina@equilibrio.demo.clinic",
        "directions": "Frente a la Plaza Sucre, a dos cuadras de la estación Viña del Mar del Merval.",
        "rooms": ["Consulta A", "Consulta B"],
    },
]

SERVICES = [
    {
        "slug": "psicoterapia-adultos",
        "category": "psicologia",
        "name": "Psicoterapia individual adultos",
        "description": (
            "Sesiones de psicoterapia para adultos que viven ansiedad, ánimo bajo, estrés laboral, duelos o "
            "dificultades en sus relaciones. Trabajamos con objetivos claros y revisamos el avance juntos."
        ),
        "duration_minutes": 50,
        "buffer_after_minutes": 10,
        "price": Decimal("40000"),
        "modality": "both",
        "payment_mode": "later",
    },
    {
        "slug": "psicoterapia-adolescentes",
        "category": "psicologia",
        "name": "Psicoterapia adolescentes",
        "description": (
            "Acompañamiento psicológico para jóvenes de 12 a 18 años, con espacios de orientación para madres, "
            "padres y cuidadores."
        ),
        "duration_minutes": 50,
        "buffer_after_minutes": 10,
        "price": Decimal("38000"),
        "modality": "in_person",
        "payment_mode": "later",
    },
    {
        "slug": "terapia-de-pareja",
        "category": "psicologia",
        "name": "Terapia de pareja",
        "description": (
            "Un espacio para mejorar la comunicación, resolver conflictos y tomar decisiones como pareja, con "
            "enfoque sistémico."
        ),
        "duration_minutes": 75,
        "buffer_after_minutes": 15,
        "price": Decimal("55000"),
        "modality": "both",
        "payment_mode": "online",
    },
    {
        "slug": "evaluacion-psicologica",
        "category": "psicologia",
        "name": "Evaluación psicológica",
        "description": (
            "Evaluación con instrumentos estandarizados e informe escrito, para procesos laborales, escolares o "
            "clínicos."
        ),
        "duration_minutes": 90,
        "buffer_after_minutes": 15,
        "price": Decimal("60000"),
        "modality": "in_person",
        "payment_mode": "online",
        "available_in_packs": False,
    },
    {
        "slug": "consulta-nutricional",
        "category": "nutricion",
        "name": "Consulta nutricional inicial",
        "description": (
            "Primera consulta: historia clínica y alimentaria, medidas antropométricas y un plan de alimentación "
            "hecho para tu rutina y tus gustos."
        ),
        "duration_minutes": 60,
        "buffer_after_minutes": 10,
        "price": Decimal("35000"),
        "modality": "both",
        "payment_mode": "online",
    },
    {
        "slug": "control-nutricional",
        "category": "nutricion",
        "name": "Control nutricional",
        "description": "Seguimiento de tu plan, ajuste de metas y resolución de dudas del día a día.",
        "duration_minutes": 30,
        "buffer_after_minutes": 10,
        "price": Decimal("22000"),
        "modality": "both",
        "payment_mode": "later",
    },
    {
        "slug": "nutricion-deportiva",
        "category": "nutricion",
        "name": "Nutrición deportiva",
        "description": (
            "Planificación alimentaria para entrenamientos y competencias: running, ciclismo, crossfit y deportes "
            "de equipo."
        ),
        "duration_minutes": 45,
        "buffer_after_minutes": 10,
        "price": Decimal("30000"),
        "modality": "both",
        "payment_mode": "later",
    },
    {
        "slug": "bioimpedancia",
        "category": "nutricion",
        "name": "Evaluación de composición corporal",
        "description": (
            "Medición por bioimpedancia de masa grasa, masa muscular e hidratación, con informe comentado."
        ),
        "duration_minutes": 30,
        "buffer_after_minutes": 5,
        "price": Decimal("18000"),
        "modality": "in_person",
        "payment_mode": "clinic",
    },
]

PROFESSIONALS = [
    {
        "slug": "catalina-munoz",
        "display_name": "Ps. Catalina Muñoz Rojas",
        "title": "Psicóloga clínica · adultos",
        "rut": "15.432.876-9",
        "user_email": "psicologa@demo.clinic",
        "daily_agenda_email": True,  # she gets her agenda at 07:00 (the nutritionist has not asked for it)
        "availability_self_service": "full",  # she changes her own hours, overrides and time off in the portal
        "first_name": "Catalina",
        "last_name": "Muñoz",
        "color": (94, 129, 172),
        "bio": (
            "Psicóloga de la Pontificia Universidad Católica de Chile, con diez años de experiencia en "
            "psicoterapia de adultos. Trabajo desde la terapia cognitivo-conductual y la terapia de aceptación y "
            "compromiso, con especial interés en ansiedad, estrés laboral y duelo."
        ),
        "services": ["psicoterapia-adultos", "evaluacion-psicologica"],
        "locations": ["providencia"],
        "degrees": [
            ("Magíster en Psicología Clínica", "Pontificia Universidad Católica de Chile", 2016),
            ("Diplomado en Terapia de Aceptación y Compromiso", "Universidad de Chile", 2019),
        ],
        "experience": [
            ("Psicóloga clínica", "Centro Equilibrio", "2019 – hoy"),
            ("Psicóloga", "CESFAM Los Castaños", "2014 – 2019"),
        ],
    },
    {
        "slug": "matias-fernandez",
        "display_name": "Ps. Matías Fernández Soto",
        "title": "Psicólogo clínico · adolescentes y familia",
        "rut": "16.789.234-5",
        "first_name": "Matías",
        "last_name": "Fernández",
        "color": (129, 161, 120),
        "bio": (
            "Psicólogo de la Universidad Diego Portales. Acompaño a adolescentes y a sus familias en procesos de "
            "ansiedad, autoestima, dificultades escolares y cambios vitales."
        ),
        "services": ["psicoterapia-adolescentes", "psicoterapia-adultos"],
        "locations": ["providencia", "vina-del-mar"],
        "degrees": [("Magíster en Psicología Infanto-Juvenil", "Universidad Diego Portales", 2018)],
        "experience": [
            ("Psicólogo", "Centro Equilibrio", "2020 – hoy"),
            ("Psicólogo escolar", "Colegio San Andrés de Viña", "2016 – 2020"),
        ],
    },
    {
        "slug": "valentina-herrera",
        "display_name": "Ps. Valentina Herrera Díaz",
        "title": "Psicóloga · terapia de pareja",
        "rut": "17.234.567-0",
        "first_name": "Valentina",
        "last_name": "Herrera",
        "color": (180, 142, 173),
        "bio": (
            "Psicóloga y terapeuta familiar y de pareja con formación sistémica. Atiendo parejas que quieren "
            "recuperar la comunicación o tomar decisiones difíciles con respeto."
        ),
        "services": ["terapia-de-pareja", "psicoterapia-adultos"],
        "locations": ["vina-del-mar"],
        "degrees": [("Postítulo en Terapia Familiar y de Pareja", "Instituto Chileno de Terapia Familiar", 2017)],
        "experience": [("Terapeuta de pareja", "Centro Equilibrio", "2018 – hoy")],
    },
    {
        "slug": "javiera-contreras",
        "display_name": "Nta. Javiera Contreras Silva",
        "title": "Nutricionista clínica",
        "rut": "13.987.654-7",
        "user_email": "nutricionista@demo.clinic",
        "first_name": "Javiera",
        "last_name": "Contreras",
        "color": (208, 135, 112),
        "bio": (
            "Nutricionista de la Universidad de Chile. Acompaño a personas con resistencia a la insulina, "
            "hipertensión y colesterol alto a comer mejor sin dietas imposibles."
        ),
        "services": ["consulta-nutricional", "control-nutricional", "bioimpedancia"],
        "locations": ["providencia"],
        "degrees": [("Magíster en Nutrición Clínica", "Universidad de Chile", 2015)],
        "experience": [
            ("Nutricionista clínica", "Centro Equilibrio", "2017 – hoy"),
            ("Nutricionista", "Clínica Santa María", "2012 – 2017"),
        ],
    },
    {
        "slug": "diego-araya",
        "display_name": "Nta. Diego Araya Pizarro",
        "title": "Nutricionista deportivo",
        "rut": "18.456.321-5",
        "first_name": "Diego",
        "last_name": "Araya",
        "color": (136, 192, 208),
        "bio": (
            "Nutricionista deportivo y corredor de trail. Trabajo con deportistas amateurs y de alto rendimiento "
            "para que coman según su entrenamiento."
        ),
        "services": ["nutricion-deportiva", "control-nutricional", "bioimpedancia"],
        "locations": ["providencia", "vina-del-mar"],
        "degrees": [("Diplomado en Nutrición Deportiva", "Universidad Mayor", 2019)],
        "experience": [("Nutricionista deportivo", "Centro Equilibrio", "2021 – hoy")],
    },
    {
        "slug": "fernanda-vidal",
        "display_name": "Nta. Fernanda Vidal Morales",
        "title": "Nutricionista · alimentación intuitiva",
        "rut": "14.321.987-9",
        "first_name": "Fernanda",
        "last_name": "Vidal",
        "color": (163, 190, 140),
        "bio": (
            "Nutricionista con formación en trastornos de la conducta alimentaria y alimentación intuitiva. "
            "Trabajo en equipo con psicología para sanar la relación con la comida."
        ),
        "services": ["consulta-nutricional", "control-nutricional"],
        "locations": ["vina-del-mar"],
        "degrees": [("Diplomado en Trastornos de la Conducta Alimentaria", "Universidad de los Andes", 2020)],
        "experience": [("Nutricionista", "Centro Equilibrio", "2020 – hoy")],
    },
]

ACCOUNTS = [
    # (email, first name, last name, role) — DEMO ONLY, all with DEMO_PASSWORD.
    ("admin@demo.clinic", "Admin", "Demo", "admin"),
    ("editor@demo.clinic", "Elena", "Editora", "editor"),
    ("recepcion@demo.clinic", "Rocío", "Recepción", "receptionist"),
    ("psicologa@demo.clinic", "Catalina", "Muñoz", "professional"),
    ("nutricionista@demo.clinic", "Javiera", "Contreras", "professional"),
    ("paciente1@demo.clinic", "Camila", "Reyes Paredes", "patient"),
    ("paciente2@demo.clinic", "Tomás", "Fuentes Lagos", "patient"),
    ("paciente3@demo.clinic", "Ignacia", "Morales Vera", "patient"),
    ("paciente4@demo.clinic", "Benjamín", "Castillo Ortiz", "patient"),
    ("paciente5@demo.clinic", "Francisca", "Navarro Leiva", "patient"),
    ("paciente6@demo.clinic", "Joaquín", "Espinoza Tapia", "patient"),
    ("paciente7@demo.clinic", "Antonia", "Vergara Pino", "patient"),
    ("paciente8@demo.clinic", "Vicente", "Sepúlveda Rivas", "patient"),
]

# Patient profiles (RUTs with valid check digits): email → (RUT, phone, birth date as ISO).
PATIENTS = {
    "paciente1@demo.clinic": ("19.876.543-0", "+56 9 1234 5678", "1990-05-17"),
    "paciente2@demo.clinic": ("20.123.456-5", "+56 9 9012 3344", "1999-10-02"),
    "paciente3@demo.clinic": ("18.234.567-9", "+56 9 6182 4470", "1993-02-08"),
    "paciente4@demo.clinic": ("21.345.678-4", "+56 9 7325 1189", "2009-08-21"),
    "paciente5@demo.clinic": ("17.654.321-3", "+56 9 5590 3127", "1988-11-30"),
    "paciente6@demo.clinic": ("16.543.210-K", "+56 9 8841 0265", "1986-04-12"),
    "paciente7@demo.clinic": ("20.987.654-K", "+56 9 4417 9902", "2001-07-03"),
    "paciente8@demo.clinic": ("19.345.123-3", "+56 9 3306 7714", "1995-01-26"),
}

BLOG_CATEGORIES = [
    ("salud-mental", "Salud mental"),
    ("alimentacion", "Alimentación"),
    ("bienestar", "Bienestar"),
]

BLOG_POSTS = [
    {
        "slug": "como-saber-si-necesito-ir-al-psicologo",
        "title": "¿Cómo saber si necesito ir al psicólogo?",
        "date": "2026-09-02",
        "author": "catalina-munoz",
        "categories": ["salud-mental"],
        "tags": ["terapia", "primera consulta"],
        "excerpt": (
            "Cinco señales de que una conversación con un profesional puede ayudarte, y qué esperar de la "
            "primera sesión."
        ),
        "paragraphs": [
            "No hace falta estar en crisis para consultar. Muchas personas llegan porque sienten que algo no anda "
            "bien hace semanas: duermen mal, se irritan con facilidad o ya no disfrutan lo que antes les gustaba.",
            "En la primera sesión conversamos sobre lo que te trae, tu historia y lo que esperas del proceso. "
            "Al final acordamos objetivos y una frecuencia que te acomode.",
        ],
    },
    {
        "slug": "ansiedad-cinco-herramientas",
        "title": "Ansiedad: cinco herramientas para el día a día",
        "date": "2026-09-16",
        "author": "matias-fernandez",
        "categories": ["salud-mental", "bienestar"],
        "tags": ["ansiedad", "respiración"],
        "excerpt": (
            "La respiración diafragmática, el registro de pensamientos y otras técnicas que puedes practicar hoy."
        ),
        "paragraphs": [
            "La ansiedad es una respuesta normal del cuerpo, pero cuando aparece sin motivo claro o con mucha "
            "intensidad puede limitar tu vida.",
            "Practica respirar lento, contando cuatro tiempos al inhalar y seis al exhalar, durante cinco minutos. "
            "Anota qué pensamientos aparecen antes de sentir ansiedad: ponerles nombre ayuda a tomar distancia.",
        ],
    },
    {
        "slug": "alimentacion-consciente",
        "title": "Alimentación consciente: comer con atención",
        "date": "2026-09-30",
        "author": "fernanda-vidal",
        "categories": ["alimentacion", "bienestar"],
        "tags": ["alimentación intuitiva"],
        "excerpt": "Volver a escuchar las señales de hambre y saciedad sin reglas rígidas.",
        "paragraphs": [
            "Comer frente al computador o el celular hace que perdamos las señales de saciedad.",
            "Prueba una comida al día sin pantallas: mira los colores, siente las texturas y pregúntate cómo "
            "está tu hambre a mitad del plato.",
        ],
    },
    {
        "slug": "primera-consulta-nutricional",
        "title": "Qué esperar de tu primera consulta nutricional",
        "date": "2026-10-14",
        "author": "javiera-contreras",
        "categories": ["alimentacion"],
        "tags": ["primera consulta", "nutrición"],
        "excerpt": "Qué exámenes traer, cómo prepararte y cómo armamos juntos tu plan.",
        "paragraphs": [
            "Trae tus exámenes de sangre recientes si los tienes, y anota qué comiste durante tres días normales.",
            "Medimos peso, talla, circunferencias y composición corporal, y armamos un plan que calce con tu "
            "rutina, tu presupuesto y tus gustos.",
        ],
    },
    {
        "slug": "mitos-sobre-dietas",
        "title": "Seis mitos sobre las dietas",
        "date": "2026-10-28",
        "author": "diego-araya",
        "categories": ["alimentacion"],
        "tags": ["nutrición", "mitos"],
        "excerpt": "¿Los carbohidratos engordan? ¿Hay que comer cada tres horas? Revisamos la evidencia.",
        "paragraphs": [
            "Ningún alimento por sí solo engorda o adelgaza: importa el patrón completo de alimentación.",
            "Comer cada tres horas no acelera el metabolismo; la frecuencia ideal depende de tu rutina y tu hambre.",
        ],
    },
    {
        "slug": "dormir-mejor",
        "title": "Dormir mejor: hábitos que sí funcionan",
        "date": "2026-11-11",
        "author": "catalina-munoz",
        "categories": ["bienestar", "salud-mental"],
        "tags": ["sueño", "hábitos"],
        "excerpt": "Horarios regulares, luz de mañana y menos pantallas de noche: lo que dice la evidencia.",
        "paragraphs": [
            "Acostarse y levantarse a la misma hora, incluso el fin de semana, es el hábito con más efecto.",
            "Exponerte a luz natural en la mañana y bajar las luces una hora antes de dormir ayuda a tu reloj "
            "biológico.",
        ],
    },
]

RESOURCE_CATEGORIES = [("guias", "Guías"), ("ejercicios", "Ejercicios"), ("enlaces", "Enlaces útiles")]

RESOURCES = [
    {
        "slug": "registro-de-pensamientos",
        "title": "Registro de pensamientos",
        "kind": "document",
        "category": "ejercicios",
        "audience": "public",
        "summary": "Una planilla para anotar situaciones, pensamientos y emociones, como trabajamos en terapia.",
        "document_title": "Registro de pensamientos (TCC)",
    },
    {
        "slug": "diario-de-alimentacion",
        "title": "Diario de alimentación semanal",
        "kind": "document",
        "category": "guias",
        "audience": "public",
        "summary": "Para anotar qué comes, a qué hora y cómo te sientes, antes de tu consulta nutricional.",
        "document_title": "Diario de alimentación semanal",
    },
    {
        "slug": "guia-higiene-del-sueno",
        "title": "Guía de higiene del sueño",
        "kind": "document",
        "category": "guias",
        "audience": "public",
        "summary": "Diez recomendaciones simples para dormir mejor.",
        "document_title": "Guía de higiene del sueño",
    },
    {
        "slug": "plan-de-comidas-ejemplo",
        "title": "Plan de comidas de ejemplo",
        "kind": "document",
        "category": "guias",
        "audience": "patients",
        "summary": "Un plan semanal de ejemplo para pacientes en control nutricional.",
        "document_title": "Plan de comidas de ejemplo (pacientes)",
    },
    {
        "slug": "respiracion-diafragmatica",
        "title": "Video: respiración diafragmática",
        "kind": "video",
        "category": "ejercicios",
        "audience": "patients",
        "summary": "Un ejercicio guiado de cinco minutos para bajar la activación.",
        "video_url": "https://www.youtube.com/watch?v=demo-respiracion",
    },
    {
        "slug": "salud-responde",
        "title": "Salud Responde (MINSAL)",
        "kind": "link",
        "category": "enlaces",
        "audience": "public",
        "summary": "Orientación en salud las 24 horas del Ministerio de Salud: 600 360 7777.",
        "external_url": "https://www.minsal.cl/salud-responde/",
    },
]

FAQ = [
    (
        "¿Atienden con Fonasa o Isapre?",
        "Entregamos boleta para que solicites el reembolso en tu Isapre o seguro complementario.",
    ),
    (
        "¿Puedo tener la sesión en línea?",
        "Sí. Los servicios marcados como en línea se realizan por videollamada; recibirás el enlace por correo.",
    ),
    (
        "¿Cómo cancelo o cambio mi hora?",
        "Escríbenos o llámanos con el código de tu reserva hasta 24 horas antes de la sesión: no tiene costo.",
    ),
]

# The demo's month behind and month ahead (website/demo/sessions.py books them through the services).
# Each series: (patient email, professional slug, service slug, place — a location slug or ONLINE —, preferred local
# start hour, days from today of each session, note the patient left when booking the first one).
ONLINE = "online"
SESSION_SERIES = [
    (
        "paciente1@demo.clinic",
        "catalina-munoz",
        "psicoterapia-adultos",
        "providencia",
        10,
        [-28, -21, -14, -7, 0, 7, 14, 21, 28],
        "Me cuesta desconectarme del trabajo y duermo mal hace meses.",
    ),
    ("paciente1@demo.clinic", "javiera-contreras", "consulta-nutricional", "providencia", 17, [-25], ""),
    ("paciente1@demo.clinic", "javiera-contreras", "bioimpedancia", "providencia", 16, [-18], ""),
    ("paciente1@demo.clinic", "javiera-contreras", "control-nutricional", ONLINE, 11, [-11, 3, 17], ""),
    (
        "paciente2@demo.clinic",
        "diego-araya",
        "nutricion-deportiva",
        "vina-del-mar",
        18,
        [-24],
        "Preparo mi primera maratón en abril.",
    ),
    ("paciente2@demo.clinic", "diego-araya", "bioimpedancia", "vina-del-mar", 18, [-17, 11], ""),
    ("paciente2@demo.clinic", "diego-araya", "control-nutricional", ONLINE, 10, [-10, 4, 18], ""),
    (
        "paciente3@demo.clinic",
        "catalina-munoz",
        "psicoterapia-adultos",
        ONLINE,
        9,
        [-26, -12, 2, 16, 30],
        "Vivo en Temuco, prefiero las sesiones en línea.",
    ),
    ("paciente3@demo.clinic", "fernanda-vidal", "consulta-nutricional", ONLINE, 12, [9], ""),
    (
        "paciente4@demo.clinic",
        "matias-fernandez",
        "psicoterapia-adolescentes",
        "providencia",
        16,
        [-27, -20, -13, -6, 1, 8, 15, 22],
        "Agenda su mamá, Carolina Ortiz. Benjamín está en segundo medio.",
    ),
    ("paciente5@demo.clinic", "valentina-herrera", "terapia-de-pareja", "vina-del-mar", 17, [-23, -9, 5], ""),
    ("paciente5@demo.clinic", "valentina-herrera", "terapia-de-pareja", ONLINE, 10, [-16, 19], ""),
    ("paciente6@demo.clinic", "diego-araya", "nutricion-deportiva", "providencia", 9, [-22], ""),
    ("paciente6@demo.clinic", "diego-araya", "bioimpedancia", "providencia", 9, [-21], ""),
    ("paciente6@demo.clinic", "diego-araya", "control-nutricional", "providencia", 9, [-8, 6, 20], ""),
    ("paciente7@demo.clinic", "fernanda-vidal", "consulta-nutricional", "vina-del-mar", 15, [-19], ""),
    ("paciente7@demo.clinic", "fernanda-vidal", "control-nutricional", ONLINE, 12, [-5, 9, 23], ""),
    (
        "paciente7@demo.clinic",
        "valentina-herrera",
        "psicoterapia-adultos",
        "vina-del-mar",
        12,
        [-15, -1, 13, 27],
        "Me derivó Fernanda, mi nutricionista.",
    ),
    (
        "paciente8@demo.clinic",
        "matias-fernandez",
        "psicoterapia-adultos",
        "vina-del-mar",
        18,
        [-25, -18, -11, -4, 3, 10, 17, 24],
        "",
    ),
    ("paciente8@demo.clinic", "catalina-munoz", "evaluacion-psicologica", "providencia", 15, [13], ""),
]

# What happens to particular sessions: (patient email, service slug, day of the series) → outcome.
SESSION_OUTCOMES = {
    ("paciente4@demo.clinic", "psicoterapia-adolescentes", -13): "no_show",
    ("paciente1@demo.clinic", "psicoterapia-adultos", 14): "cancelled",
    ("paciente8@demo.clinic", "psicoterapia-adultos", 10): "rescheduled",
}
# A first session booked with a welcome discount code.
SESSION_COUPONS = {("paciente3@demo.clinic", "psicoterapia-adultos", -26): "BIENVENIDA10"}
