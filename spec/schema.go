package spec

import _ "embed"

//go:embed submission.schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (draft 2020-12) of submission v1, for
// editors and for clients that check a submission before sending it. Parse
// applies the same rules and a few the schema cannot express.
func Schema() []byte { return append([]byte(nil), schemaJSON...) }
