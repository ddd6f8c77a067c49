-- Who complained, about what, and how long after the send.
SELECT c.emailaddress AS address,
       complaint.complaintfeedbacktype AS feedback,
       mail.commonheaders.subject AS subject,
       to_iso8601(from_iso8601_timestamp(complaint.timestamp)) AS complained_at,
       date_diff('hour', from_iso8601_timestamp(mail.timestamp), from_iso8601_timestamp(complaint.timestamp)) AS hours_after_send
FROM seslogs
CROSS JOIN UNNEST(complaint.complainedrecipients) AS t(c)
WHERE event_type = 'Complaint' AND day >= '2024/11/01'
ORDER BY address
-- expect:
-- address,feedback,subject,complained_at,hours_after_send
-- dave@example.org,abuse,Weekly news: 20% off,2024-11-06T08:00:00.000Z,20
