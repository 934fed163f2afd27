-- The one consumer group `notification` became one per topic
-- (`notification-registration`, `notification-matching`: bootstrap.create_consumers).
-- The new groups start from the earliest offset; their inbox already holds what
-- the old group handled, so a topic read again from the start changes nothing.
INSERT INTO inbox (consumer, event_id, event_type, handled_at)
SELECT CASE
           WHEN split_part(event_type, '.', 1) IN ('match', 'meeting', 'schedule')
               THEN 'notification-matching'
           ELSE 'notification-registration'
       END,
       event_id, event_type, handled_at
  FROM inbox
 WHERE consumer = 'notification'
ON CONFLICT DO NOTHING;
