-- name: complaints
-- description: One row per complained recipient: time, recipient, feedback type, subtype, user agent, arrival date, message, subject.
-- window: 7d
WITH complained AS (
    SELECT event_time, mail.messageid AS message_id, mail.commonheaders.subject AS subject,
           complaint.complaintfeedbacktype AS feedback_type, complaint.complaintsubtype AS sub_type,
           complaint.useragent AS user_agent, complaint.arrivaldate AS arrival_date,
           unnest(complaint.complainedrecipients) AS r
    FROM seslogs
    WHERE event_type = 'Complaint' AND day BETWEEN $day_from AND $day_to
      AND event_time >= $from AND event_time < $to
)
SELECT DISTINCT event_time AS time, lower(r['emailaddress']) AS recipient, feedback_type, sub_type,
       user_agent, arrival_date, message_id, subject
FROM complained
ORDER BY time, recipient
