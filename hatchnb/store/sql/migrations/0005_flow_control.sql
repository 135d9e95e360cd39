-- Flow control: concurrency keys, rate limits, sticky and affinity (filled in by issue 3).
SELECT 1;
