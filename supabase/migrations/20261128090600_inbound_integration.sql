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
