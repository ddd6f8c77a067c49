-- name: delays
-- description: One row per delayed recipient: time, recipient, delay type, status, diagnostic code, expiration time, message, subject.
-- window: 7d
WITH delayed AS (
    SELECT event_time, mail.messageid AS message_id, mail.commonheaders.subject AS subject,
           deliverydelay.delaytype AS delay_type, deliverydelay.expirationtime AS expires,
           unnest(deliverydelay.delayedrecipients) AS r
    FROM seslogs
    WHERE event_type = 'DeliveryDelay' AND day BETWEEN $day_from AND $day_to
      AND event_time >= $from AND event_time < $to
)
SELECT DISTINCT event_time AS time, lower(r['emailaddress']) AS recipient, delay_type,
       r['status'] AS status, r['diagnosticcode'] AS diagnostic_code, expires, message_id, subject
FROM delayed
ORDER BY time, recipient
