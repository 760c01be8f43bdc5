// Package httpmetrics counts and times the requests an HTTP server answers,
// for Prometheus: agentwatt_http_requests_total and
// agentwatt_http_request_duration_seconds, by route and status code.
//
// The route is the pattern of http.ServeMux that matched the request
// ("POST /v1/submissions", "GET /v1/jobs/{id}"), never its path, and a
// request that matched no pattern is counted under "unmatched": a label's
// values are the server's own, so a client cannot grow the metrics with the
// URLs, methods or ids it sends.
package httpmetrics
