-- Is each provider running at its limit? Calls, 429s and their share, the pacer's rate against the
-- limit (configured, learned from headers, or unknown), the pace seen over the last minute,
-- latency p50/p95, a quota pause if any, and the ETA of the latest run.
select provider, planned, succeeded, failed, in_flight, calls, rate_limited, rate_limited_share,
       paced_rpm, limit_rpm, limit_source, observed_rpm, latency_p50_ms, latency_p95_ms,
       paused_until, quota_reason, eta
  from scheduler.v_provider_pace
 where run_id = (select id from scheduler.runs order by created_at desc limit 1);
