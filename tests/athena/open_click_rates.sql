-- Open and click rates per subject over delivered messages.
SELECT mail.commonheaders.subject AS subject,
       approx_distinct(mail.messageid) AS messages,
       count_if(event_type = 'Delivery') AS deliveries,
       count_if(event_type = 'Open') AS opens,
       count_if(event_type = 'Click') AS clicks,
       round(CAST(count_if(event_type = 'Open') AS double) / nullif(count_if(event_type = 'Delivery'), 0), 2) AS open_rate
FROM seslogs
WHERE event_type IN ('Delivery', 'Open', 'Click')
GROUP BY mail.commonheaders.subject
ORDER BY subject
-- expect:
-- subject,messages,deliveries,opens,clicks,open_rate
-- Reset your password,1,2,1,1,0.5
-- Summer sale,1,1,0,0,0.0
-- Weekly news: 20% off,1,1,0,0,0.0
-- パスワードの再設定,1,1,0,0,0.0
