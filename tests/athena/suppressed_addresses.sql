-- Addresses to stop mailing: permanent bounces and complaints, with the first reason.
WITH reasons AS (
    SELECT lower(r.emailaddress) AS address, 'bounce: ' || bounce.bouncesubtype AS reason,
           from_iso8601_timestamp(bounce.timestamp) AS at
    FROM seslogs CROSS JOIN UNNEST(bounce.bouncedrecipients) AS t(r)
    WHERE event_type = 'Bounce' AND bounce.bouncetype = 'Permanent'
    UNION ALL
    SELECT lower(c.emailaddress), 'complaint: ' || complaint.complaintfeedbacktype,
           from_iso8601_timestamp(complaint.timestamp)
    FROM seslogs CROSS JOIN UNNEST(complaint.complainedrecipients) AS t(c)
    WHERE event_type = 'Complaint'
)
SELECT address, min_by(reason, at) AS first_reason, count(*) AS events
FROM reasons
GROUP BY address
ORDER BY address
-- expect:
-- address,first_reason,events
-- carol@example.net,bounce: General,1
-- dave@example.org,complaint: abuse,1
-- judy@example.com,bounce: OnAccountSuppressionList,1
-- mallory@example.com,bounce: NoEmail,1
-- niaj@example.com,bounce: General,1
