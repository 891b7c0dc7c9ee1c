-- wrk script for bench/webhooks/run: POSTs of the size sluice sends (WRK_BODY_BYTES, the mean
-- body size the sink measured), with the same header set as a signed Standard Webhooks request.
local size = tonumber(os.getenv("WRK_BODY_BYTES") or "300")
local body = '{"type":"OrderPlaced","data":{"id":1,"payload":"'
body = body .. string.rep("x", math.max(0, size - #body - 3)) .. '"}}'
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "sluice/0.1.0"
wrk.headers["webhook-id"] = "msg_sink_1000000"
wrk.headers["webhook-timestamp"] = "1700000000"
wrk.headers["webhook-signature"] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
