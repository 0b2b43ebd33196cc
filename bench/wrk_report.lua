-- wrk script: after the run, print one JSON line (prefixed "WRK_JSON ") with
-- the request count, the duration, latency percentiles in microseconds and
-- the error counts, for bench/wrk.py to parse. Requests stay static (no
-- request() function), so wrk sends them at full speed.

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
