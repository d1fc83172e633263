"""The credit data operators' admin: credit profiles and the cache control, their imports,
the scorecards; and the CPF search every CPF-keyed page uses (cpf_search)."""

from scores.admin import (  # noqa: F401  (registers)
    consumer_requests,
    credit_profiles,
    profile_imports,
    scorecards,
    start,
)
