-- name: failures
-- description: One row per rendering failure: time, template, error message, message, sender, recipients.
-- window: 7d
SELECT DISTINCT event_time AS time, failure.templatename AS template, failure.errormessage AS error,
       mail.messageid AS message_id, mail.source AS sender, array_to_string(recipients, ', ') AS recipients
FROM seslogs
WHERE event_type = 'Rendering Failure' AND day BETWEEN $day_from AND $day_to
  AND event_time >= $from AND event_time < $to
ORDER BY time, message_id
