-- Which events carry a SKU? The event tables with a sku column: the interactions Personalize can learn from.
SELECT event_text AS event, count(*) AS messages FROM ${events_with_sku} AS events WHERE sku IS NOT NULL GROUP BY event_text ORDER BY messages DESC, event
