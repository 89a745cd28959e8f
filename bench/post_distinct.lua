-- wrk script: POST a different pre-signed interaction on every request, as Discord sends them.
-- Usage: wrk -t1 -c64 -d3s -s bench/post_distinct.lua http://127.0.0.1:PORT/path -- POOL_FILE
-- POOL_FILE holds complete HTTP requests, each preceded by a line with its length in bytes
-- (bench/endpoint.py writes it: one interaction id per request, all signed just before the run).
-- The pool is sized above the requests a run can send; were it to wrap, the repeats would be
-- refused as replays and show up as non-2xx answers in the result line.

local requests = {}
local count = 0
local index = 0

function init(args)
   local f = assert(io.open(args[1], "rb"))
   while true do
      local len = f:read("*l")
      if not len then break end
      count = count + 1
      requests[count] = f:read(tonumber(len))
   end
   f:close()
   assert(count > 0, "empty request pool")
end

function request()
   index = index + 1
   if index > count then index = 1 end
   return requests[index]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f"
         .. " err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
      e.connect, e.read, e.write, e.status, e.timeout))
end
