-- Per-message status: what happened to each message and its latest event (ties broken
-- by the event type's name).
SELECT mail.messageid AS message_id,
       array_join(array_sort(array_agg(DISTINCT event_type)), ',') AS events,
       max_by(event_type, to_iso8601(from_iso8601_timestamp(coalesce(bounce.timestamp,
           complaint.timestamp, delivery.timestamp, deliverydelay.timestamp, open.timestamp,
           click.timestamp, subscription.timestamp, mail.timestamp))) || event_type) AS latest,
       count_if(event_type = 'Delivery') > 0 AS delivered
FROM seslogs
WHERE day BETWEEN '2024/11/05' AND '2024/11/07'
GROUP BY mail.messageid
ORDER BY message_id
-- expect:
-- message_id,events,latest,delivered
-- 0100019a-full-000000,"Bounce,Send",Bounce,false
-- 0100019a-news-000000,"Bounce,Complaint,Delivery,Send",Complaint,true
-- 0100019a-obrien-000000,"Delivery,DeliveryDelay,Send",Delivery,true
-- 0100019a-reset-alice-000000,"Click,Delivery,Open,Send",Click,true
-- 0100019a-supp-000000,"Bounce,Send",Bounce,false
-- 0100019a-tmpl-000000,Rendering Failure,Rendering Failure,false
-- 0100019a-unsub-000000,"Send,Subscription",Subscription,false
-- 0100019a-virus-000000,"Reject,Send",Send,false
