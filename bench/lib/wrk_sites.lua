-- wrk script for the many-sites scenario: every request names a random one of
-- SITES hosts `site-0001.DOMAIN` … (`wrk ... -s wrk_sites.lua -- SITES DOMAIN`),
-- and the end report is the same "BENCHJSON" line as wrk_report.lua's.

local hosts = {}
local count = 0

function init(args)
  count = tonumber(args[1] or "1")
  local domain = args[2] or "bench.test"
  for i = 1, count do
    hosts[i] = string.format("site-%04d.%s", i, domain)
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  wrk.headers["Host"] = hosts[math.random(count)]
  return wrk.format()
end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
