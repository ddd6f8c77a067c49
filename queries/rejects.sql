-- name: rejects
-- description: One row per rejected message: time, reason, message, sender, recipients, subject.
-- window: 7d
SELECT DISTINCT event_time AS time, reject.reason AS reason, mail.messageid AS message_id,
       mail.source AS sender, array_to_string(recipients, ', ') AS recipients,
       mail.commonheaders.subject AS subject
FROM seslogs
WHERE event_type = 'Reject' AND day BETWEEN $day_from AND $day_to
  AND event_time >= $from AND event_time < $to
ORDER BY time, message_id
