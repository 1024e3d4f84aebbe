-- wrk script for the many-sites scenario: every request names a random one of
-- SITES hosts `site-0001.DOMAIN` … (`wrk ... -s wrk_sites.lua -- SITES DOMAIN`),
-- and the end report is the same "BENCHJSON" line as wrk_report.lua's.

local hosts = {}
local count = 0

function init(args)
  count = tonumber(args[1] or "1")
  local domain = args[2] or "bench.localhost"
  for i = 1, count do
    hosts[i] = string.format("site-%04d.%s", i, domain)
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  wrk.headers["Host"] = hosts[math.random(count)]
  return wrk.format()
end

-- The end report: wrk_report.lua's `done`, loaded from beside this script.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_report.lua")
