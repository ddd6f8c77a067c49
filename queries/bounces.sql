-- name: bounces
-- description: One row per bounced recipient: time, recipient, bounce type and subtype, status, diagnostic code, message, subject, sender, sent time, feedback id, reporting MTA.
-- window: 7d
-- narrow: time, recipient, status, diagnostic_code
-- param: type text = '' -- permanent, transient or undetermined ('' for all)
-- param: recipient text = '' -- only this address, in any case ('' for all)
-- param: domain text = '' -- only recipients at this domain ('' for all)
WITH bounced AS (
    SELECT event_time, mail.messageid AS message_id, mail.commonheaders.subject AS subject,
           mail.source AS sender, mail.timestamp AS sent, bounce.bouncetype AS bounce_type,
           bounce.bouncesubtype AS bounce_subtype, bounce.feedbackid AS feedback_id,
           bounce.reportingmta AS reporting_mta, unnest(bounce.bouncedrecipients) AS r
    FROM seslogs
    WHERE event_type = 'Bounce' AND day BETWEEN $day_from AND $day_to
      AND event_time >= $from AND event_time < $to
      -- Lets the scan skip records without the address by their bytes; exact filter below.
      AND ($recipient = '' OR array_has(recipients, lower($recipient)))
)
SELECT DISTINCT event_time AS time, lower(r['emailaddress']) AS recipient, bounce_type, bounce_subtype,
       r['status'] AS status, r['diagnosticcode'] AS diagnostic_code, message_id, subject, sender,
       sent, feedback_id, reporting_mta
FROM bounced
WHERE ($type = '' OR lower(bounce_type) = lower($type))
  AND ($recipient = '' OR lower(r['emailaddress']) = lower($recipient))
  AND ($domain = '' OR split_part(lower(r['emailaddress']), '@', 2) = lower($domain))
ORDER BY time, recipient
