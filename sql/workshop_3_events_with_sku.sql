-- Which events carry a SKU? Those are the interactions Personalize can learn from.
SELECT event, count(*) AS messages FROM segment_logs WHERE properties.sku IS NOT NULL GROUP BY event ORDER BY messages DESC, event
