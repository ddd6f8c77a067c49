-- name: recipient
-- description: Every event that concerns one address, oldest first, with the detail that explains it and a verdict per message (delivered, bounced, complained, rejected, delayed, sent-no-outcome-yet).
-- window: 30d
-- param: address text -- the recipient's address, in any case
WITH events AS (
    SELECT DISTINCT event_time AS time, eventtype AS event, mail.messageid AS message_id,
           mail.commonheaders.subject AS subject,
           CASE eventtype
               WHEN 'Delivery' THEN delivery.smtpresponse
               WHEN 'Bounce' THEN concat(bounce.bouncetype, '/', bounce.bouncesubtype, ': ',
                   bounce.bouncedrecipients[CAST(array_position(recipients, lower($address)) AS BIGINT)]['diagnosticcode'])
               WHEN 'DeliveryDelay' THEN concat(deliverydelay.delaytype, ': ',
                   deliverydelay.delayedrecipients[CAST(array_position(recipients, lower($address)) AS BIGINT)]['diagnosticcode'])
               WHEN 'Complaint' THEN concat('complaint: ', coalesce(complaint.complaintfeedbacktype, 'no feedback type'),
                   CASE WHEN complaint.complaintsubtype IS NOT NULL THEN concat(' (', complaint.complaintsubtype, ')') ELSE '' END)
               WHEN 'Click' THEN click.link
               WHEN 'Open' THEN open.useragent
               WHEN 'Reject' THEN concat('rejected: ', reject.reason)
               WHEN 'Rendering Failure' THEN concat(failure.templatename, ': ', failure.errormessage)
               WHEN 'Subscription' THEN concat(subscription.contactlist, ': unsubscribe all = ',
                   CAST(subscription.newtopicpreferences.unsubscribeall AS VARCHAR))
               ELSE ''
           END AS detail
    FROM seslogs
    WHERE day BETWEEN $day_from AND $day_to
      AND event_time >= $from AND event_time < $to
      AND array_has(recipients, lower($address))
)
-- The verdict is a window over the same events, not a second CTE joined back: a CTE used
-- twice is planned (and its objects read) twice.
SELECT time, event, message_id, subject, detail,
       CASE
           WHEN bool_or(event = 'Complaint') OVER (PARTITION BY message_id) THEN 'complained'
           WHEN bool_or(event = 'Delivery') OVER (PARTITION BY message_id) THEN 'delivered'
           WHEN bool_or(event = 'Bounce') OVER (PARTITION BY message_id) THEN 'bounced'
           WHEN bool_or(event IN ('Reject', 'Rendering Failure')) OVER (PARTITION BY message_id) THEN 'rejected'
           WHEN bool_or(event = 'DeliveryDelay') OVER (PARTITION BY message_id) THEN 'delayed'
           ELSE 'sent-no-outcome-yet'
       END AS verdict
FROM events
ORDER BY time, CASE event WHEN 'Send' THEN 0 ELSE 1 END, event
