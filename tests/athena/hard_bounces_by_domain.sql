-- Hard bounces by recipient domain, one row per bounced recipient.
SELECT split_part(lower(r.emailaddress), '@', 2) AS domain,
       count(*) AS hard_bounces,
       arbitrary(bounce.bouncetype) AS bounce_type
FROM seslogs
CROSS JOIN UNNEST(bounce.bouncedrecipients) AS t(r)
WHERE event_type = 'Bounce' AND bounce.bouncetype = 'Permanent'
  AND bounce.bouncesubtype <> 'OnAccountSuppressionList'
GROUP BY 1
ORDER BY 2 DESC, 1
-- expect:
-- domain,hard_bounces,bounce_type
-- example.com,2,Permanent
-- example.net,1,Permanent
