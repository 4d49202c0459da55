-- Local stand-in for Supabase's pg_net: the same SQL interface (net.http_post, net.http_get,
-- net.http_request_queue, net._http_response). Requests queue here; scripts/lib/net-dispatcher.ts
-- sends them after the queuing transaction commits (the NOTIFY below is delivered on commit),
-- never retries, and records status, body, timeouts and errors the way pg_net's worker does.
-- Local platform only: migrations just call net.http_post, which exists on Supabase too.
create schema if not exists net;

do $$
begin
  if not exists (select from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'net' and t.typname = 'http_method') then
    create domain net.http_method as text check (value in ('GET', 'POST', 'DELETE'));
  end if;
end
$$;

create unlogged table if not exists net.http_request_queue (
  id bigserial primary key,
  method net.http_method not null,
  url text not null,
  headers jsonb not null,
  body bytea,
  timeout_milliseconds integer not null
);

create unlogged table if not exists net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz not null default now()
);
create index if not exists _http_response_created_idx on net._http_response (created);

create or replace function net._notify_dispatcher() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform pg_catalog.pg_notify('daybreak_net_queue', new.id::text);
  return new;
end
$$;

drop trigger if exists notify_dispatcher on net.http_request_queue;
create trigger notify_dispatcher after insert on net.http_request_queue
  for each row execute function net._notify_dispatcher();

create or replace function net._url_with_params(url text, params jsonb) returns text
language sql immutable
set search_path = ''
as $$
  select case
    when params is null or params = '{}'::jsonb then url
    else url || case when strpos(url, '?') > 0 then '&' else '?' end || (
      select string_agg(key || '=' || value, '&' order by key)
      from jsonb_each_text(params)
    )
  end
$$;

create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint
language plpgsql
set search_path = ''
as $$
declare
  request_id bigint;
begin
  if timeout_milliseconds is null or timeout_milliseconds <= 0 then
    raise exception 'timeout_milliseconds must be positive';
  end if;
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values (
    'POST',
    net._url_with_params(url, params),
    coalesce(headers, '{}'::jsonb) || case when coalesce(headers, '{}'::jsonb) ? 'Content-Type'
                                           then '{}'::jsonb
                                           else '{"Content-Type": "application/json"}'::jsonb end,
    convert_to(coalesce(body, '{}'::jsonb)::text, 'UTF8'),
    timeout_milliseconds
  )
  returning id into request_id;
  return request_id;
end
$$;

create or replace function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint
language plpgsql
set search_path = ''
as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('GET', net._url_with_params(url, params), coalesce(headers, '{}'::jsonb), null, timeout_milliseconds)
  returning id into request_id;
  return request_id;
end
$$;

revoke all on schema net from public;
revoke all on all tables in schema net from public;
revoke execute on all functions in schema net from public;
