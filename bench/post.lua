-- wrk script: POST one pre-signed interaction body, over and over, and print a parseable summary.
-- Usage: wrk -t1 -c32 -d10s -s bench/post.lua http://127.0.0.1:PORT/path -- REQUEST_FILE
-- REQUEST_FILE holds three lines: signature hex, timestamp, then the body (the rest of the file).
-- init() sets wrk.method/headers/body and the script defines no request(): wrk then treats the
-- request as static, formats it once per thread, and runs no Lua per request (cheap load generator).

local function read_request(path)
   local f = assert(io.open(path, "rb"))
   local signature = f:read("*l")
   local timestamp = f:read("*l")
   local body = f:read("*a")
   f:close()
   return signature, timestamp, body
end

function init(args)
   local signature, timestamp, body = read_request(args[1])
   wrk.method = "POST"
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["User-Agent"] = "Discord-Interactions/1.0 (+https://discord.com)"
   wrk.headers["X-Signature-Ed25519"] = signature
   wrk.headers["X-Signature-Timestamp"] = timestamp
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
