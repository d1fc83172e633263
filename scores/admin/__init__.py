"""The credit data operators' admin: credit profiles and the cache control, their imports,
the scorecards; and the CPF search every CPF-keyed page uses (cpf_search)."""

from scores.admin import credit_profiles, profile_imports, scorecards, start  # noqa: F401
