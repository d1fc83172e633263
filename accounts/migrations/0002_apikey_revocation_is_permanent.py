"""Revocation is permanent, enforced by the database as well as by the model."""

from django.db import migrations

from scoreportal.migration_sql import run_vendor_sql

FORWARD = {
    "postgresql": [
        """
        CREATE FUNCTION accounts_apikey_revocation_is_permanent() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.revoked AND NOT NEW.revoked THEN
                RAISE EXCEPTION 'API key % is revoked; revocation cannot be undone', OLD.prefix
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END;
        $$;
        """,
        """
        CREATE TRIGGER accounts_apikey_revocation_is_permanent
            BEFORE UPDATE OF revoked ON accounts_apikey
            FOR EACH ROW EXECUTE FUNCTION accounts_apikey_revocation_is_permanent();
        """,
    ],
    "sqlite": [
        """
        CREATE TRIGGER accounts_apikey_revocation_is_permanent
        BEFORE UPDATE OF revoked ON accounts_apikey
        WHEN OLD.revoked AND NOT NEW.revoked
        BEGIN SELECT RAISE(ABORT, 'revocation cannot be undone'); END;
        """,
    ],
}

REVERSE = {
    "postgresql": [
        "DROP TRIGGER accounts_apikey_revocation_is_permanent ON accounts_apikey;",
        "DROP FUNCTION accounts_apikey_revocation_is_permanent();",
    ],
    "sqlite": ["DROP TRIGGER accounts_apikey_revocation_is_permanent;"],
}


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [run_vendor_sql(FORWARD, REVERSE)]
