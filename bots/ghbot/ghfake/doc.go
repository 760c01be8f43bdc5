// Package ghfake is a stand-in for GitHub's REST API, used only by tests: GitHub
// cannot be reached from tests, so the bot's tests run the real go-github and
// ghinstallation clients against an httptest server that speaks the endpoints
// the bot uses with GitHub's wire format (JSON shapes, status codes, Link
// pagination, installation tokens exchanged for an App JWT, 422 on more than
// 50 annotations in one request).
//
// It is not a _test.go file so that the tests of several packages can import
// it; nothing outside tests may.
//
// Files:
//   - server.go: New, routing, token exchange and authentication, the request
//     log, JSON errors and pagination.
//   - state.go: the exported state types, the setters tests seed it with and
//     the copies they read back.
//   - repos.go: repository, pull request, changed files, contents and team
//     membership endpoints.
//   - checks.go: check runs (create, update) and their validation.
//   - comments.go: issue comments (create, edit).
//   - releases.go: repository releases (list, paginated, with ETag and 304
//     on If-None-Match; readable without credentials) and AddToken.
package ghfake
