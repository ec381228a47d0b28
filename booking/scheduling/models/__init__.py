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

__all__ = [
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
