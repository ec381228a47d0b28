from django import template

from booking.scheduling.money import format_money

register = template.Library()


@register.filter(name="money")
def money_filter(amount, currency="CLP"):
    """``{{ service.price|money:service.currency }}`` → ``$35.000`` in Spanish."""
    return format_money(amount, currency)
