-- daybreak: the real pg_net and Supabase Vault, and kicks that never hold pg_net's worker.
-- Purpose: (1) Vault as Supabase has it (extension supabase_vault, schema vault), which the cron
-- commands and scheduler.queue_function_call read; (2) pg_net's grants to PUBLIC taken back where
-- the migrating role owns pg_net's objects; (3) every call SQL makes to an edge function asks for
-- an immediate answer (Prefer: respond-async → 202, the work continues in the background) and
-- gives pg_net a short timeout, because pg_net's worker sends a batch of requests and takes no
-- new ones until the whole batch has finished: one slow call would hold back cron ticks,
-- reconciler calls and continuation kicks.
-- Objects: extension supabase_vault; privileges on schema net, its tables, sequences and
-- functions; config key function_call_timeout_ms (replaces processor_request_timeout_ms);
-- function scheduler.queue_function_call (same signature).
-- Operators: nothing to do. On Supabase, Vault is already installed (the create is a no-op) and
-- pg_net's objects belong to supabase_admin, so its grants stay as Supabase sets them; schema
-- net is not exposed through the Data API. See RUNBOOK.md "Who can see the queued requests".
-- The current schema, every function with its body: supabase/schema.sql.

create extension if not exists supabase_vault;

-- pg_net grants PUBLIC usage on schema net and all privileges on its tables: any role could
-- read net.http_request_queue, where the cron secret waits in the headers until the worker sends
-- it, and net._http_response. Revoke that where this role may (it owns pg_net's objects, as the
-- superuser on the local platform does); elsewhere say what stays as it is.
do $$
declare
  v_owner oid;
begin
  select e.extowner into v_owner from pg_catalog.pg_extension e where e.extname = 'pg_net';
  if v_owner is null then
    raise notice 'daybreak: pg_net is not an extension here; no grants to take back';
  elsif pg_catalog.pg_has_role(current_user, v_owner, 'MEMBER') then
    revoke all on schema net from public, anon, authenticated;
    revoke all on all tables in schema net from public, anon, authenticated;
    revoke all on all sequences in schema net from public, anon, authenticated;
    revoke execute on all functions in schema net from public, anon, authenticated;
  else
    raise notice 'daybreak: pg_net belongs to %, not to %; its grants stay as the platform set them (schema net is not exposed through the Data API)',
      v_owner::regrole, current_user;
  end if;
end
$$;

-- pg_net waits up to this long for an answer. Functions answer a kick with 202 at once, so it
-- only bounds what a slow or unreachable endpoint can cost the other requests in pg_net's batch.
delete from scheduler.config where key = 'processor_request_timeout_ms';
insert into scheduler.config (key, value, description) values
  ('function_call_timeout_ms', '2000',
   'pg_net timeout (ms) for every call SQL makes to an edge function; functions answer these calls at once (202)')
on conflict (key) do nothing;

-- Queues an HTTP call to one of daybreak's edge functions through pg_net, with the URL and the
-- cron secret read from Vault. pg_net sends it only if the calling transaction commits, so a
-- kick is sent exactly when the state change that needs it is durable. `Prefer: respond-async`
-- asks the function to answer 202 at once and work on in the background (EdgeRuntime.waitUntil),
-- so no call holds pg_net's worker; state lives in daybreak's tables, never in the response.
-- Returns pg_net's request id, or null (with a warning) when Vault does not hold the URL and
-- secret yet.
create or replace function scheduler.queue_function_call(
  p_function text,
  p_body jsonb,
  p_trigger_source text,
  p_request_id text default null
) returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_url text;
  v_secret text;
begin
  if p_function not in ('daily-batch-trigger', 'robust-batch-processor', 'batch-reconciler') then
    raise exception 'unknown daybreak function "%"', p_function using errcode = '22023';
  end if;
  select max(decrypted_secret) filter (where name = 'daybreak_functions_url'),
         max(decrypted_secret) filter (where name = 'daybreak_cron_secret')
    into v_url, v_secret
    from vault.decrypted_secrets
   where name in ('daybreak_functions_url', 'daybreak_cron_secret');
  if v_url is null or v_secret is null then
    raise warning 'daybreak: Vault secrets daybreak_functions_url / daybreak_cron_secret are not set; % not called', p_function;
    return null;
  end if;
  return net.http_post(
    url := rtrim(v_url, '/') || '/' || p_function,
    body := coalesce(p_body, '{}'::jsonb),
    params := '{}'::jsonb,
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'Prefer', 'respond-async',
      'x-cron-secret', v_secret,
      'x-trigger-source', p_trigger_source,
      'x-request-id', coalesce(p_request_id, gen_random_uuid()::text)
    ),
    timeout_milliseconds := scheduler.config_int('function_call_timeout_ms')
  );
end
$$;

revoke execute on function scheduler.queue_function_call(text, jsonb, text, text) from public, anon, authenticated;
comment on function scheduler.queue_function_call(text, jsonb, text, text) is
  'Queues a pg_net call to a daybreak edge function (URL and cron secret from Vault; Prefer: respond-async; function_call_timeout_ms)';
