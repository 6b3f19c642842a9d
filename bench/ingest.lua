-- wrk script for bench/ingest.py: POST a different realistic body on every request.
-- BENCH_BODIES names a file with one JSON body per line; each wrk thread takes its own slice.
local bodies_file = os.getenv("BENCH_BODIES")
local secret = os.getenv("BENCH_SECRET") or ""
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  local n = 0
  for line in io.lines(bodies_file) do
    n = n + 1
    bodies[n] = line
  end
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  -- BENCH_OFFSET: where this run starts in the file, so two runs against one database send different bodies.
  local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
  slice = math.floor((n - offset) / nthreads)
  first = offset + id * slice
  stored, duplicate, other = 0, 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. secret
end

function request()
  local body = bodies[first + ((counter - 1) % slice) + 1]
  counter = counter + 1
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"stored"', 1, true) then
    stored = stored + 1
  elseif status == 200 and string.find(body, '"duplicate"', 1, true) then
    duplicate = duplicate + 1
  elseif status ~= 200 or not string.find(body, '"ok"', 1, true) then
    other = other + 1
  end
end

function done(summary, latency, requests)
  local s, d, o = 0, 0, 0
  for _, thread in ipairs(threads) do
    s = s + thread:get("stored")
    d = d + thread:get("duplicate")
    o = o + thread:get("other")
  end
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "errors": %d, "non2xx": %d, "stored": %d, "duplicate": %d, "other": %d, ' ..
    '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, s, d, o,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end
