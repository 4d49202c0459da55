-- Demo data for the LOCAL stack only (scripts/dev applies it; `supabase db reset` would too).
-- Never load it into a real project: its providers point at the local mock provider
-- (harness/mock-provider/index.ts on 127.0.0.1:54330) and its organizations are made up.
-- Idempotent: fixed ids, upserts, and organization_providers rows inserted only when missing, so
-- running it again changes nothing (and puts edited demo rows back as they are written here).
-- What it plans per run: Acme 5 prompts x 3 (provider, region) = 15 tasks, Globex 6 x 2 = 12,
-- Initech 4 x 3 = 12; 39 tasks in 3 batch jobs.
-- No begin/commit inside: run it in one transaction (scripts/lib/dev-demo.ts does; with psql, add
-- --single-transaction).

-- Providers: the mock speaks the OpenAI chat-completions API and needs no key (api_key_env null).
insert into public.providers (name, base_url, model, api_key_env, timeout_ms, fallback_provider, enabled) values
  ('mock-openai',     'http://127.0.0.1:54330/v1', 'gpt-4o-mini',  null, 10000, null,          true),
  ('mock-perplexity', 'http://127.0.0.1:54330/v1', 'sonar',        null, 10000, 'mock-openai', true),
  ('mock-groq',       'http://127.0.0.1:54330/v1', 'llama-3.1-8b', null, 10000, null,          true)
on conflict (name) do update
  set base_url = excluded.base_url,
      model = excluded.model,
      api_key_env = excluded.api_key_env,
      timeout_ms = excluded.timeout_ms,
      fallback_provider = excluded.fallback_provider,
      enabled = excluded.enabled;

insert into public.organizations (id, name, active) values
  ('d0000000-0000-4000-8000-00000000a001', 'Acme Analytics',  true),
  ('d0000000-0000-4000-8000-00000000a002', 'Globex Research', true),
  ('d0000000-0000-4000-8000-00000000a003', 'Initech Labs',    true)
on conflict (id) do update set name = excluded.name, active = excluded.active;

insert into public.prompts (id, org_id, text, active) values
  -- Acme Analytics
  ('d0000000-0000-4000-8000-0000000b0101', 'd0000000-0000-4000-8000-00000000a001',
   'Summarize yesterday''s top three trends in B2B SaaS pricing in two sentences.', true),
  ('d0000000-0000-4000-8000-0000000b0102', 'd0000000-0000-4000-8000-00000000a001',
   'Which analytics platforms are most often recommended for mid-size e-commerce teams?', true),
  ('d0000000-0000-4000-8000-0000000b0103', 'd0000000-0000-4000-8000-00000000a001',
   'List five common reasons customers churn from product analytics tools.', true),
  ('d0000000-0000-4000-8000-0000000b0104', 'd0000000-0000-4000-8000-00000000a001',
   'How is Acme Analytics described when people ask for a dashboard tool for startups?', true),
  ('d0000000-0000-4000-8000-0000000b0105', 'd0000000-0000-4000-8000-00000000a001',
   'Explain cohort retention analysis to a marketing manager in under 100 words.', true),
  -- Globex Research
  ('d0000000-0000-4000-8000-0000000b0201', 'd0000000-0000-4000-8000-00000000a002',
   'What are the latest developments in solid-state battery research?', true),
  ('d0000000-0000-4000-8000-0000000b0202', 'd0000000-0000-4000-8000-00000000a002',
   'Name the leading contract research organizations for early-stage clinical trials in Europe.', true),
  ('d0000000-0000-4000-8000-0000000b0203', 'd0000000-0000-4000-8000-00000000a002',
   'Summarize the main risks of CRISPR-based therapies for a general audience.', true),
  ('d0000000-0000-4000-8000-0000000b0204', 'd0000000-0000-4000-8000-00000000a002',
   'Which companies are cited most often for industrial carbon capture pilots?', true),
  ('d0000000-0000-4000-8000-0000000b0205', 'd0000000-0000-4000-8000-00000000a002',
   'Give a one-paragraph overview of Globex Research and what it is known for.', true),
  ('d0000000-0000-4000-8000-0000000b0206', 'd0000000-0000-4000-8000-00000000a002',
   'What questions should a lab ask before adopting an electronic lab notebook?', true),
  -- Initech Labs
  ('d0000000-0000-4000-8000-0000000b0301', 'd0000000-0000-4000-8000-00000000a003',
   'Recommend three tools for automating TPS report generation in a small office.', true),
  ('d0000000-0000-4000-8000-0000000b0302', 'd0000000-0000-4000-8000-00000000a003',
   'What are best practices for migrating a legacy COBOL payroll system?', true),
  ('d0000000-0000-4000-8000-0000000b0303', 'd0000000-0000-4000-8000-00000000a003',
   'How do mid-size software firms usually structure on-call rotations?', true),
  ('d0000000-0000-4000-8000-0000000b0304', 'd0000000-0000-4000-8000-00000000a003',
   'Which vendors come up when someone asks for enterprise printer fleet management?', true)
on conflict (id) do update set org_id = excluded.org_id, text = excluded.text, active = excluded.active;

-- organization_providers has no unique key (see the tables migration): a row is inserted only when
-- its (organization, provider) pair is missing, and its regions are put back to these otherwise.
with wanted (org_id, provider, regions) as (values
  ('d0000000-0000-4000-8000-00000000a001'::uuid, 'mock-openai',     array['us', 'eu']),
  ('d0000000-0000-4000-8000-00000000a001'::uuid, 'mock-perplexity', array['us']),
  ('d0000000-0000-4000-8000-00000000a002'::uuid, 'mock-openai',     array['global']),
  ('d0000000-0000-4000-8000-00000000a002'::uuid, 'mock-groq',       array['eu']),
  ('d0000000-0000-4000-8000-00000000a003'::uuid, 'mock-perplexity', array['global']),
  ('d0000000-0000-4000-8000-00000000a003'::uuid, 'mock-groq',       array['us']),
  ('d0000000-0000-4000-8000-00000000a003'::uuid, 'mock-openai',     array['us'])
), updated as (
  update public.organization_providers op
     set regions = w.regions
    from wanted w
   where op.org_id = w.org_id and op.provider = w.provider and op.regions is distinct from w.regions
)
insert into public.organization_providers (org_id, provider, regions)
select w.org_id, w.provider, w.regions
  from wanted w
 where not exists (select 1 from public.organization_providers op
                    where op.org_id = w.org_id and op.provider = w.provider);
