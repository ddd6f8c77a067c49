-- name: message
-- description: Every event of one message, oldest first, for every recipient.
-- window: 30d
-- param: id text -- the SES message id (mail.messageId)
SELECT DISTINCT event_time AS time, eventtype AS event, array_to_string(recipients, ', ') AS recipients,
       CASE eventtype
           WHEN 'Delivery' THEN delivery.smtpresponse
           WHEN 'Bounce' THEN concat(bounce.bouncetype, '/', bounce.bouncesubtype, ': ',
               bounce.bouncedrecipients[1]['diagnosticcode'])
           WHEN 'DeliveryDelay' THEN concat(deliverydelay.delaytype, ': ',
               deliverydelay.delayedrecipients[1]['diagnosticcode'])
           WHEN 'Complaint' THEN concat('complaint: ', coalesce(complaint.complaintfeedbacktype, 'no feedback type'))
           WHEN 'Click' THEN click.link
           WHEN 'Open' THEN open.useragent
           WHEN 'Reject' THEN concat('rejected: ', reject.reason)
           WHEN 'Rendering Failure' THEN concat(failure.templatename, ': ', failure.errormessage)
           WHEN 'Subscription' THEN subscription.contactlist
           ELSE ''
       END AS detail,
       mail.commonheaders.subject AS subject
FROM seslogs
WHERE day BETWEEN $day_from AND $day_to
  AND event_time >= $from AND event_time < $to
  AND mail.messageid = $id
ORDER BY time, CASE event WHEN 'Send' THEN 0 ELSE 1 END, event
