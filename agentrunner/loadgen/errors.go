package loadgen

import "errors"

var (
	// ErrEventTooLarge: one server-sent event larger than the decoder's limit.
	ErrEventTooLarge = errors.New("server-sent event too large")
	// ErrMalformedChunk: an event's data is not the JSON object a chat
	// completion chunk must be.
	ErrMalformedChunk = errors.New("malformed chunk")
	// ErrNoModel: /v1/models listed no model.
	ErrNoModel = errors.New("server lists no model")
	// ErrAmbiguousModel: /v1/models listed several models and none was given.
	ErrAmbiguousModel = errors.New("server lists several models")
)
