--
-- setup: create the extension and a helper that waits for a condition with
-- a deadline (never a bare sleep)
--
CREATE EXTENSION trades_kafka;

CREATE FUNCTION regress_wait_for(condition text, timeout_ms int DEFAULT 30000)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + timeout_ms * interval '1 ms';
	ok boolean;
BEGIN
	LOOP
		EXECUTE 'SELECT (' || condition || ')::boolean' INTO ok;
		IF ok THEN
			RETURN true;
		END IF;
		IF clock_timestamp() > deadline THEN
			RETURN false;
		END IF;
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;

SELECT extversion FROM pg_extension WHERE extname = 'trades_kafka';
