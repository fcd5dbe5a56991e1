-- updated_at maintenance (the realworld-axum-sqlx pattern): a trigger bumps updated_at on every
-- update that actually changes the row, so no code path can forget it (the recovery job finds
-- stale rows by updated_at). An update that sets updated_at itself keeps its value, so tests and
-- tools can back-date a row on purpose. A service's own migrations attach it to a table with
-- `select trigger_updated_at('<table>');`.
--
-- Applied before the service's own migrations by every service that lists
-- service_kit::db::MIGRATOR (libs/service-kit/src/db.rs). `or replace`: databases created before
-- this file existed got the same two functions from each service's own
-- 20261121000000_updated_at.sql; this leaves them as they are.
create or replace function set_updated_at()
    returns trigger
    language plpgsql
as $$
begin
    if new.updated_at is not distinct from old.updated_at then
        new.updated_at = now();
    end if;
    return new;
end;
$$;

create or replace function trigger_updated_at(tablename regclass)
    returns void
    language plpgsql
as $$
begin
    execute format(
        'create trigger set_updated_at before update on %s for each row '
        'when (old is distinct from new) execute function set_updated_at()',
        tablename);
end;
$$;
