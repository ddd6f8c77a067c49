-- A subscript and a field inside a function that Athena has and DataFusion spells otherwise.
SELECT count_if(bounce.bouncedrecipients[1].status LIKE '5.%') AS permanent_status,
       count_if(element_at(bounce.bouncedrecipients, 1).status LIKE '4.%') AS transient_status,
       count(*) AS bounces
FROM seslogs
WHERE event_type = 'Bounce'
-- expect:
-- permanent_status,transient_status,bounces
-- 4,1,5
