package spec

// Option changes what Parse and Validate accept.
type Option func(*options)

type options struct {
	allowProcessMode bool
}

// WithProcessMode accepts engine.command (process mode) for any framework and
// accelerator, not only the sim. It is an operator's setting for their own
// trusted engines: process mode runs the engine outside a container.
func WithProcessMode(allow bool) Option {
	return func(o *options) { o.allowProcessMode = allow }
}

func buildOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}
