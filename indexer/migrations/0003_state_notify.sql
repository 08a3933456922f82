-- Every change of the sync state (a committed batch, a new head, a rollback) is announced on the
-- `tessera_state` channel when its transaction commits, so that API servers know when their cached answers
-- go stale.
CREATE FUNCTION tessera_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tessera_state', NEW.indexed_block::text);
    RETURN NEW;
END
$$;

CREATE TRIGGER sync_state_changed AFTER INSERT OR UPDATE ON sync_state
    FOR EACH ROW EXECUTE FUNCTION tessera_state_changed();
