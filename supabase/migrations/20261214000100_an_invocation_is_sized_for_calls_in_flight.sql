-- daybreak: processor_in_flight_per_invocation says what it sizes: the calls in flight an
-- invocation is counted for when the fleet is sized, not the most it holds.
-- Purpose: an invocation's slots (DAYBREAK_PROCESSOR_MAX_IN_FLIGHT, 96 by default) hold the calls in
-- flight and the calls claimed ahead, waiting for their turn at the provider's pace (up to 1 s of
-- it). At 64 slots for 64 calls in flight the lanes ran out of slots before their pace: a provider
-- with no limit settled at 12-13 calls in flight where it serves 15.
-- Objects: the description of scheduler.config processor_in_flight_per_invocation (value unchanged).
-- Operators: nothing to do.
-- The current schema: supabase/schema.sql.
update scheduler.config
   set description = 'provider calls in flight one processor invocation is counted for when the fleet is sized (its slots, DAYBREAK_PROCESSOR_MAX_IN_FLIGHT, also hold the calls waiting for their turn)'
 where key = 'processor_in_flight_per_invocation';
