// Package simulator is the channel simulator: an HTTP server that behaves like the six
// asynchronous publishing APIs (DESIGN.md "The six channels"), returns realistic,
// deterministic results per (event, channel), and injects faults on demand. The channel
// adapters (package channels) speak exactly this protocol; the simulator is the embedded
// default endpoint when CHANNELS_CONFIG is absent, and `distribution simulator` runs it as its
// own process so fault tests can stop or slow it.
//
// # Protocol (partner protocol v1, docs/partner-v1.openapi.yaml)
//
// A channel given a secret (Config.Secrets) answers only requests signed with it (package
// partnersig: headers X-Partner-Timestamp and X-Partner-Signature, HMAC-SHA256 over
// "<timestamp>.<METHOD> <path>\n<body>", 5-minute window on Config.Now); others get 401
// signature_missing, signature_invalid or timestamp_out_of_window, counted in Unauthorized. The
// embedded simulator gets fresh secrets at every start, shared with the adapters; `distribution
// simulator` checks every channel with SIMULATOR_SECRET_FILE, or nothing when it is unset.
//
// Submit a publication:
//
//	POST /v1/channels/{CHANNEL}/publications
//	Idempotency-Key: <opaque, 1..200 chars, required>
//	Content-Type: application/json
//	{"eventId":"...", "title":"...", "description":"...", "imageUrl":"...", "storeName":"..."}
//
//	202 Accepted
//	{"id":"pub_...", "status":"IN_PROGRESS", "progress":0}
//
// A repeated submit with the same (channel, Idempotency-Key) returns the same publication (same
// id, same final result, header Idempotent-Replayed: true): never a second post. The one
// exception is a publication that ended FAILED: it published nothing, so the key is free again
// and the next submit with it starts a new publication. Reusing a key for a different event is
// 409 idempotency_conflict.
//
// Follow its status:
//
//	GET /v1/channels/{CHANNEL}/publications/{id}
//
//	200 OK
//	{"id":"pub_...", "status":"IN_PROGRESS|SUCCESS|FAILED", "progress":0..100,
//	 "result":{...},                                       // only when SUCCESS
//	 "error":{"code":"...","message":"...","retryable":false}} // only when FAILED
//
// Progress is computed from wall time (Config.Now), not from goroutines: +20 per Config.Step
// since the submit, SUCCESS at 100. Step 0 finishes at once.
//
// The result fields depend on the channel:
//
//	URIDONGNETV  distributionId "UDTV-XXXXXXXX", estimatedViews (5,000-50,000), impressionSchedule
//	GINITV       distributionId "GTV-XXXXXXXX", estimatedViews (10,000-80,000), impressionSchedule
//	RINGOBIZ     distributionId "RGB-XXXXXXXX", estimatedViews (expected callers, 300-5,000)
//	INSTAGRAM    postId, postUrl https://www.instagram.com/p/{shortcode}/, estimatedViews
//	NAVER        postId, postUrl https://blog.naver.com/{blog}/{number}, estimatedViews
//	KAKAO        messageId, estimatedViews (channel friends reached)
//
// impressionSchedule is a list of 3-6 ad slots {"start","end","slot","spots"} on the days after
// the submit (RFC 3339 in KST, +09:00; slots "morning", "daytime", "prime", "late"). Results
// are a pure function of (eventId, channel) and, for the schedule, the KST day of the submit.
//
// Every error answer has the body {"error":{"code":"...","message":"...","retryable":bool}}:
// 400 invalid_request, 401 (signatures, above), 404 not_found, 409 idempotency_conflict, 413 too_large, 429
// rate_limited (with Retry-After), 503 unavailable.
//
// # Fault injection
//
// SIMULATOR_FAIL (ParseFail, e.g. "KAKAO=3,NAVER=always"): the channel answers the first N
// submits of every event with 503 unavailable (retryable), counted per (event, channel) across
// all idempotency keys, so automatic and manual retries both count; "always" never succeeds.
// A submit answered from an existing publication (an idempotent replay) does not count.
//
// Scripted faults (Server.Inject, or the admin endpoint) are per channel and per operation
// (submit or poll): each request takes the next fault of its queue; see Fault for the kinds
// (latency, hang, HTTP status, 429 with Retry-After, connection reset, huge body, redirect,
// lost response, publication that ends FAILED).
//
// # Admin endpoint (loopback clients only)
//
//	POST   /_admin/faults/{CHANNEL}   {"faults":[{"kind":"status","status":503}, ...]} append faults
//	DELETE /_admin/faults             clear every queue
//	PUT    /_admin/fail               body in SIMULATOR_FAIL syntax; replaces the rules
//	GET    /_admin/stats              counters: submits, polls, posts, unauthorized per channel; posts per event
//	PUT    /_admin/instagram/accounts {"igUserId","accessToken"}: a token the Graph emulation accepts
//	PUT    /_admin/kakao/project      {"serviceId","accessKey","secretKey"}: the SENS project
//	PUT    /_admin/kakao/channels     {"plusFriendId","nonFriends"?,"brandSubscribed"?}: a KakaoTalk channel of that project
//
// # Instagram Graph API (instagram.go)
//
// Beside partner v1 the simulator speaks Instagram's own content publishing protocol (the
// instagram-graph protocol of package channels): POST /{version}/{ig-user-id}/media, GET
// /{version}/{container-id}?fields=status_code,status (IN_PROGRESS for IGPollsToFinish reads, then
// FINISHED; ERROR, EXPIRED after 24 h, PUBLISHED), POST /{version}/{ig-user-id}/media_publish,
// GET /{version}/{media-id}?fields=permalink, GET /{version}/{ig-user-id}/media and
// content_publishing_limit. Tokens are checked against registered accounts
// (RegisterInstagramAccount or the admin endpoint); errors are Graph bodies
// {"error":{"message","type","code","error_subcode","is_transient","fbtrace_id"}}, mostly HTTP 400.
// SIMULATOR_FAIL takes Graph rules for INSTAGRAM: "INSTAGRAM=190" (every call: expired token;
// the number is still the partner protocol's count too), "INSTAGRAM=613x2" (the next two calls
// throttled; codes 1, 2, 4, 17, 32, 100, 190, 613), "INSTAGRAM=container-error" (the next container
// ends ERROR), "INSTAGRAM=publish-lost" (the next media_publish publishes, then the connection
// closes without an answer).
//
// # KakaoTalk brand messages through NAVER Cloud SENS (kakao.go)
//
// The kakao-sens protocol: POST /brandmessage/v2/services/{serviceId}/messages (free-form TEXT,
// targeting I, M or N), GET /brandmessage/v2/services/{serviceId}/messages?requestId= (or
// requestStartTime+requestEndTime with plusFriendId; pageSize, nextToken) and GET
// .../messages/{messageId}, every call signed with x-ncp-apigw-timestamp / x-ncp-iam-access-key /
// x-ncp-apigw-signature-v2 and checked against the registered project (RegisterSENSProject);
// the plusFriendId must be a registered channel (RegisterKakaoChannel, else 403); a recipient the
// targeting does not reach (SetKakaoNonFriends) ends "fail". The 친구톡 paths (/friendtalk/v2/...,
// ended 2026-02-12) answer 404. SIMULATOR_FAIL takes dealer rules for KAKAO: "KAKAO=auth" (every call
// 401 Authentication Failed), "KAKAO=throttle" / "KAKAO=throttlex2" (every / the next two calls
// 429), "KAKAO=send-lost" (the next send is accepted, then the connection closes without an
// answer). A bare number keeps meaning the partner protocol's count.
//
// It also emulates the Naver Cafe article API and Naver Login's token endpoint (naver.go, the
// naver-cafe protocol): POST /v1/cafe/{clubid}/menu/{menuid}/articles with a Bearer token of a
// member registered with RegisterNaverAccount (or PUT /_admin/naver/accounts), POST|GET
// /oauth2.0/token with grant_type=refresh_token. SIMULATOR_FAIL takes "NAVER=024" (the token in
// use expires once), "NAVER=429x2" (codes 024, 403, 429, 500) and "NAVER=refresh-fail".
//
// # Token refresh, followers and insights (instagram_upkeep.go)
//
// GET /refresh_access_token?grant_type=ig_refresh_token (a token registered with
// RegisterInstagramToken must be at least 24 h old and unexpired: code 100 / 190 otherwise; the
// old token stays valid), GET /{version}/{ig-user-id}?fields=followers_count
// (SetInstagramFollowers, else a stable number from the id) and GET
// /{version}/{media-id}/insights?metric=views,reach (InstagramInsightsAt: growing by the hour of
// the post's age; impressions refused). SIMULATOR_FAIL: "INSTAGRAM=refresh-190",
// "INSTAGRAM=refresh-500", "INSTAGRAM=refresh-lost" (renewed, answer lost) and
// "NAVER=refresh-500" (the token endpoint answers 500).
package simulator
