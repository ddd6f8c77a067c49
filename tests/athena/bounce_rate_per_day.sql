-- Bounce rate per send day for November, as an Athena dashboard query writes it.
SELECT date_format(from_iso8601_timestamp(mail.timestamp), '%Y-%m-%d') AS send_day,
       count_if(event_type = 'Send') AS sends,
       count_if(event_type = 'Bounce') AS bounces,
       round(100.0 * count_if(event_type = 'Bounce') / nullif(count_if(event_type = 'Send'), 0), 1) AS bounce_pct
FROM seslogs
WHERE event_type IN ('Send', 'Bounce') AND day BETWEEN '2024/11/01' AND '2024/11/30'
GROUP BY 1
ORDER BY 1
-- expect:
-- send_day,sends,bounces,bounce_pct
-- 2024-11-05,2,1,50.0
-- 2024-11-06,2,0,0.0
-- 2024-11-07,3,2,66.7
-- 2024-11-30,1,0,0.0
