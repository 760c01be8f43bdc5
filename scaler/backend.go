package scaler

import "context"

// Backend is where a pool's capacity lives: an EC2 Auto Scaling group
// (AWSGroup), local runner processes (Processes). The scaler reads it,
// protects busy instances and sets the capacity; which instance goes on a
// scale-in is the back-end's choice among the unprotected ones.
type Backend interface {
	// Describe returns the capacity as it is now.
	Describe(ctx context.Context) (Group, error)
	// SetDesired sets the capacity to n. On a scale-in the back-end removes
	// only instances that are not protected.
	SetDesired(ctx context.Context, n int) error
	// Protect sets (or lifts) the scale-in protection of instances.
	Protect(ctx context.Context, ids []string, protected bool) error
}

// Group is a back-end's capacity.
type Group struct {
	// Desired is the capacity the back-end is asked to hold; what the
	// scaler reports as actual.
	Desired int
	// Min and Max are the back-end's own bounds (an Auto Scaling group's
	// MinSize and MaxSize); Max 0 means none.
	Min, Max int
	// Instances are the live instances (terminating ones left out).
	Instances []Instance
}

// Instance is one unit of capacity: an EC2 instance, a runner process.
type Instance struct {
	ID        string
	Protected bool // from scale-in
}
