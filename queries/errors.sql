-- name: errors
-- description: Records Firehose could not deliver (its error prefix, the table errorlogs): per error output type, error code and message, how many and when they arrived.
-- window: 7d
-- narrow: error_code, records, last_arrival, error_message
SELECT error_output_type, errorcode AS error_code, errormessage AS error_message,
       count(*) AS records, min(arrival_time) AS first_arrival, max(arrival_time) AS last_arrival
FROM errorlogs
WHERE dt BETWEEN replace($day_from, '/', '-') AND replace($day_to, '/', '-')
  AND arrival_time >= $from AND arrival_time < $to
GROUP BY error_output_type, errorcode, errormessage
ORDER BY records DESC, error_output_type, error_code, error_message
