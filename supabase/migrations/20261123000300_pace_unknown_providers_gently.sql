-- daybreak: start an unknown provider gently, recover from a 429 in seconds (measured).
-- Purpose: a provider with no configured limit was paced at 3,000 requests/min until its first
-- answers taught the pacer its real limit; against a 300/min provider that first second came
-- back as 429s (25% of a small bench run's calls). Starting at 300/min costs at most a second of
-- slower pace before the limit is learned from the x-ratelimit-* headers, and keeps providers that
-- send no headers below most published tier limits until one is configured. And a 429 halved the
-- pace for ~25 s (2%/s recovery) even when it came from that first guess; at 10%/s the pace is
-- back in ~5 s, and a provider that really is over its limit answers 429 again and is halved again.
-- Objects: scheduler.config pace_unknown_requests_per_minute (3000 → 300),
-- pace_recovery_percent_per_second (2 → 10).
-- Operators: set public.providers.requests_per_minute for a provider that sends no rate-limit
-- headers (RUNBOOK.md, section 13).
-- The current schema, every function with its body: supabase/schema.sql.
update scheduler.config set value = '300'
 where key = 'pace_unknown_requests_per_minute' and value = '3000';
update scheduler.config set value = '10'
 where key = 'pace_recovery_percent_per_second' and value = '2';
