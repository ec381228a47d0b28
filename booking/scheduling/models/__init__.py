from .appointments import (
    BLOCKING_STATUSES,
    Appointment,
    AppointmentEvent,
    AppointmentModality,
    AppointmentSource,
    AppointmentStatus,
)
from .catalog import (
    Location,
    Modality,
    PaymentMode,
    Professional,
    ProfessionalDegree,
    ProfessionalExperience,
    ProfessionalService,
    Room,
    Service,
    ServiceCategory,
)
from .schedule import DateOverride, TimeOff, Weekday, WeeklyAvailability

__all__ = [
    "BLOCKING_STATUSES",
    "Appointment",
    "AppointmentEvent",
    "AppointmentModality",
    "AppointmentSource",
    "AppointmentStatus",
    "DateOverride",
    "TimeOff",
    "WeeklyAvailability",
    "Weekday",
    "Location",
    "Modality",
    "PaymentMode",
    "Professional",
    "ProfessionalDegree",
    "ProfessionalExperience",
    "ProfessionalService",
    "Room",
    "Service",
    "ServiceCategory",
]
