-- Top clicked links, by host and path.
SELECT regexp_extract(click.link, '^https?://([^/?]+)', 1) AS host,
       split_part(click.link, '?', 1) AS link,
       count(*) AS clicks,
       approx_distinct(mail.messageid) AS messages,
       element_at(click.linktags, 'campaign') AS campaign_tags
FROM seslogs
WHERE event_type = 'Click' AND regexp_like(click.link, '^https://')
GROUP BY 1, 2, 5
ORDER BY clicks DESC, link
-- expect:
-- host,link,clicks,messages,campaign_tags
-- shop.example.com,https://shop.example.com/reset,1,1,
