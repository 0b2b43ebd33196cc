-- wrk script: alternate an allowed request (header "allow: true") and a
-- denied one (no such header), then print the same JSON line as
-- wrk_report.lua. Used by the soak and the compatibility load.

local allowed, denied
local n = 0

init = function(args)
  allowed = wrk.format(nil, nil, { ["allow"] = "true" })
  denied = wrk.format(nil, nil, {})
end

request = function()
  n = n + 1
  if n % 2 == 0 then
    return allowed
  end
  return denied
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
