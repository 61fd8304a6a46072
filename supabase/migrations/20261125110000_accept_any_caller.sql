-- A call's From/To is stored as Twilio sent it. Twilio passes withheld and alphanumeric
-- caller IDs through unchanged ("Anonymous", "ANONYMOUS", "RESTRICTED", "UNAVAILABLE",
-- "UNKNOWN", a carrier's alpha string; changelog 2022-11-16, "Upcoming changes to withheld
-- caller ID behavior"), besides E.164 numbers and client:/sip: addresses. The old check
-- listed four spellings and refused every other caller's row, so call_party now takes any
-- non-empty text up to 256 characters (the same limit the webhooks apply, MAX_PARTY_LENGTH
-- in src/lib/runtime/params.ts).
--
-- Opt-out checks compare against opt_outs.phone_number (e164): a caller that is not E.164
-- simply matches nothing there.

alter domain public.call_party drop constraint call_party_check;
alter domain public.call_party add constraint call_party_check
  check (length(value) between 1 and 256);
