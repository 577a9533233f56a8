/* trades_kafka--0.1.0--0.2.0.sql: ALTER EXTENSION trades_kafka UPDATE from 0.1.0 */

\echo Use "ALTER EXTENSION trades_kafka UPDATE TO '0.2.0'" to load this file. \quit

-- trade_id compares byte by byte ("C"), not through the database's collation:
-- every descent of the primary key during ingest compares trade ids, and
-- strcoll() was the largest single cost of the insert (bench/PROPOSALS.md 5).
-- Equality is unchanged, so no rule and no stored row changes; ORDER BY
-- trade_id now sorts by bytes.  The table is not rewritten, the primary key
-- is rebuilt, under an ACCESS EXCLUSIVE lock on trades_kafka.trades for as
-- long as that takes (stop ingestion first: README "Upgrades").
ALTER TABLE trades_kafka.trades ALTER COLUMN trade_id TYPE text COLLATE "C";
