-- name: suppression
-- description: Distinct addresses with a permanent bounce or a complaint in the window, with the last reason and when: ready for SES's suppression list (reason BOUNCE or COMPLAINT).
-- window: 30d
WITH bounced AS (
    SELECT event_time, bounce.bouncesubtype AS sub_type, unnest(bounce.bouncedrecipients) AS r
    FROM seslogs
    WHERE event_type = 'Bounce' AND day BETWEEN $day_from AND $day_to
      AND event_time >= $from AND event_time < $to AND bounce.bouncetype = 'Permanent'
),
complained AS (
    SELECT event_time, complaint.complaintfeedbacktype AS feedback_type, unnest(complaint.complainedrecipients) AS r
    FROM seslogs
    WHERE event_type = 'Complaint' AND day BETWEEN $day_from AND $day_to
      AND event_time >= $from AND event_time < $to
),
reasons AS (
    SELECT DISTINCT event_time, lower(r['emailaddress']) AS address, 'BOUNCE' AS reason,
           concat(sub_type, ': ', coalesce(r['diagnosticcode'], '')) AS detail
    FROM bounced
    UNION
    SELECT DISTINCT event_time, lower(r['emailaddress']) AS address, 'COMPLAINT' AS reason,
           concat('complaint: ', coalesce(feedback_type, 'no feedback type')) AS detail
    FROM complained
)
SELECT address,
       last_value(reason ORDER BY event_time, reason) AS reason,
       last_value(detail ORDER BY event_time, reason) AS detail,
       max(event_time) AS last_seen
FROM reasons
GROUP BY address
ORDER BY address
