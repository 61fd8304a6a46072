-- Where the inbound parts meet: the service queue's entries are one more place that holds a
-- caller's phone, so LGPD export and erasure cover them (the waits stay for service-level
-- figures, without the number).
insert into public.lgpd_sources (name, position, note, select_sql, erase_sql) values
('queue_entries', 45,
 'Waits in a service queue by the phone (or on one of its calls): exported; on erasure the number is removed and the wait kept (service level, abandons in queue).',
 $q$select pg_catalog.to_jsonb(q) from public.queue_entries q
     where q.from_number = $1 or q.call_sid in (select c.call_sid from public.calls c where c.id = any($2) and c.call_sid is not null)$q$,
 $q$update public.queue_entries q set from_number = null
     where q.from_number is not null
       and (q.from_number = $1 or q.call_sid in (select c.call_sid from public.calls c where c.id = any($2) and c.call_sid is not null))$q$);

-- Transcriptions that arrived before their recording's row (follow-me's voicemail) hold what
-- the caller said: the subject's are exported and deleted, a mention elsewhere replaced.
insert into public.lgpd_sources (name, position, note, select_sql, erase_sql) values
('pending_transcriptions', 35,
 'Voicemail transcriptions still waiting for their recording''s row: those of the subject''s calls are exported and deleted; a mention of the phone in another one is exported and replaced.',
 $q$select pg_catalog.to_jsonb(t) from public.pending_transcriptions t
     where t.call_sid in (select c.call_sid from public.calls c where c.id = any($2) and c.call_sid is not null)
        or (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(t.transcription, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then t.transcription ~ $3 else false end)$q$,
 $q$with gone as (
      delete from public.pending_transcriptions t
       where t.call_sid in (select c.call_sid from public.calls c where c.id = any($2) and c.call_sid is not null)
      returning 1),
    scrubbed as (
      update public.pending_transcriptions t set transcription = pg_catalog.regexp_replace(t.transcription, $3, 'erased', 'g')
       where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(t.transcription, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then t.transcription ~ $3 else false end)
         and not exists (select 1 from public.calls c where c.call_sid = t.call_sid and c.id = any($2))
      returning 1)
    select (select pg_catalog.count(*) from gone) + (select pg_catalog.count(*) from scrubbed)$q$);
