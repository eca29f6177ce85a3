-- bench/wrk.lua: the one wrk script for raftd and etcd (bench/run sets the
-- environment). Every request is built once in init(); request() only picks
-- one, so wrk costs the same per request against both servers.
--
--   BENCH_MODE   raftd-put    POST /db/KEY, body = the value
--                raftd-get    GET  /db/KEY                  (local read)
--                raftd-cget   GET  /db/KEY?consistent=true  (ReadIndex)
--                etcd-put     POST /v3/kv/put   {"key","value"} in base64
--                etcd-get     POST /v3/kv/range {"key","serializable":true}
--                etcd-cget    POST /v3/kv/range {"key"}     (linearizable)
--                raftd-load   POST the BENCH_KEYS keys in order, round and round
--                             (each wrk thread its own slice)
--   BENCH_KEYS   keys, drawn uniformly (default 1000)
--   BENCH_VALUE  value bytes (default 100)
--   BENCH_PREFIX key prefix (default "k")
--   BENCH_KEYMOD raftd-load: write key (i mod KEYMOD), so that a long log
--                holds few keys (default: no modulo)
--   BENCH_THREADS raftd-load: wrk's -t (each thread loads its own slice)
--
-- done() prints one line that bench/run parses:
--   BENCH requests=N seconds=S rps=R errors=E p50_us=A p99_us=B

local mode = os.getenv("BENCH_MODE") or "raftd-put"
local nkeys = tonumber(os.getenv("BENCH_KEYS") or "1000")
local vsize = tonumber(os.getenv("BENCH_VALUE") or "100")
local prefix = os.getenv("BENCH_PREFIX") or "k"
local keymod = tonumber(os.getenv("BENCH_KEYMOD") or "0")

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(s)
	local out, n = {}, #s
	for i = 1, n, 3 do
		local a, b, c = s:byte(i, i + 2)
		local v = a * 65536 + (b or 0) * 256 + (c or 0)
		local q = {}
		for j = 4, 1, -1 do
			q[j] = v % 64
			v = math.floor(v / 64)
		end
		out[#out + 1] = b64chars:sub(q[1] + 1, q[1] + 1) .. b64chars:sub(q[2] + 1, q[2] + 1) ..
			(b and b64chars:sub(q[3] + 1, q[3] + 1) or "=") .. (c and b64chars:sub(q[4] + 1, q[4] + 1) or "=")
	end
	return table.concat(out)
end

local function key(i)
	if nkeys > 10000 then
		return string.format("%s%07d", prefix, i)
	end
	return string.format("%s%04d", prefix, i)
end

-- the same value for every key: 100 printable bytes by default
local letters = "abcdefghijklmnopqrstuvwxyz0123456789"
local value
do
	local t = {}
	for i = 1, vsize do
		local k = (i * 7) % #letters + 1
		t[i] = letters:sub(k, k)
	end
	value = table.concat(t)
end

local function build(i)
	local k = key(keymod > 0 and i % keymod or i)
	if mode == "raftd-put" or mode == "raftd-load" then
		return wrk.format("POST", "/db/" .. k, nil, value)
	elseif mode == "raftd-get" then
		return wrk.format("GET", "/db/" .. k)
	elseif mode == "raftd-cget" then
		return wrk.format("GET", "/db/" .. k .. "?consistent=true")
	elseif mode == "etcd-put" then
		return wrk.format("POST", "/v3/kv/put", nil,
			'{"key":"' .. b64(k) .. '","value":"' .. b64(value) .. '"}')
	elseif mode == "etcd-get" then
		return wrk.format("POST", "/v3/kv/range", nil, '{"key":"' .. b64(k) .. '","serializable":true}')
	elseif mode == "etcd-cget" then
		return wrk.format("POST", "/v3/kv/range", nil, '{"key":"' .. b64(k) .. '"}')
	end
	error("unknown BENCH_MODE " .. mode)
end

-- setup() runs in the main state once per thread: number the threads
local nthreads = 0
function setup(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
end

local reqs = {}
local lo, hi, next_i = 0, 0, 0

function init(args)
	local t = tid or 0
	math.randomseed(12345 + 7919 * t)
	if mode == "raftd-load" then
		-- thread t loads its own slice of the keys, in order
		local nt = tonumber(os.getenv("BENCH_THREADS") or "1")
		lo = math.floor(nkeys * t / nt)
		hi = math.floor(nkeys * (t + 1) / nt) - 1
		next_i = lo
		return
	end
	for i = 0, nkeys - 1 do
		reqs[i + 1] = build(i)
	end
end

if mode == "raftd-load" then
	-- round and round the slice: bench/run stops wrk once the node holds
	-- every key (a thread that stopped itself could cut off its last writes)
	request = function()
		local i = next_i
		next_i = i < hi and i + 1 or lo
		return build(i)
	end
else
	request = function()
		return reqs[math.random(nkeys)]
	end
end

function done(summary, latency, requests)
	local e = summary.errors
	local errors = e.connect + e.read + e.write + e.status + e.timeout
	local secs = summary.duration / 1e6
	io.write(string.format("BENCH requests=%d seconds=%.3f rps=%.1f errors=%d p50_us=%d p99_us=%d mean_us=%.1f\n",
		summary.requests, secs, summary.requests / secs, errors,
		latency:percentile(50), latency:percentile(99), latency.mean))
end
