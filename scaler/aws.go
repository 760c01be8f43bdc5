package scaler

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// AutoScalingAPI is the part of the EC2 Auto Scaling API the scaler calls
// (an *autoscaling.Client).
type AutoScalingAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	SetDesiredCapacity(ctx context.Context, in *autoscaling.SetDesiredCapacityInput, opts ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error)
	SetInstanceProtection(ctx context.Context, in *autoscaling.SetInstanceProtectionInput, opts ...func(*autoscaling.Options)) (*autoscaling.SetInstanceProtectionOutput, error)
}

var _ AutoScalingAPI = (*autoscaling.Client)(nil)

// AWSGroup is a pool's EC2 Auto Scaling group. The runners on its
// instances report their instance id (agentwatt runner --instance), so
// the scaler can protect a busy one from scale-in.
type AWSGroup struct {
	api  AutoScalingAPI
	name string
}

var _ Backend = (*AWSGroup)(nil)

// NewAWSGroup is the Auto Scaling group name, through api.
func NewAWSGroup(api AutoScalingAPI, name string) *AWSGroup { return &AWSGroup{api: api, name: name} }

// Describe reads the group's desired capacity, bounds and live instances.
func (g *AWSGroup) Describe(ctx context.Context) (Group, error) {
	out, err := g.api.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{g.name},
	})
	if err != nil {
		return Group{}, fmt.Errorf("describe auto scaling group %s: %w", g.name, err)
	}
	if len(out.AutoScalingGroups) != 1 {
		return Group{}, fmt.Errorf("auto scaling group %s: %d groups answered, want 1", g.name, len(out.AutoScalingGroups))
	}
	a := out.AutoScalingGroups[0]
	grp := Group{
		Desired: int(aws.ToInt32(a.DesiredCapacity)),
		Min:     int(aws.ToInt32(a.MinSize)),
		Max:     int(aws.ToInt32(a.MaxSize)),
	}
	for _, in := range a.Instances {
		if leaving(in.LifecycleState) {
			continue
		}
		grp.Instances = append(grp.Instances, Instance{ID: aws.ToString(in.InstanceId), Protected: aws.ToBool(in.ProtectedFromScaleIn)})
	}
	return grp, nil
}

// leaving is a lifecycle state of an instance on its way out.
func leaving(s types.LifecycleState) bool {
	switch s {
	case types.LifecycleStateTerminating, types.LifecycleStateTerminatingWait, types.LifecycleStateTerminatingProceed,
		types.LifecycleStateTerminated, types.LifecycleStateDetaching, types.LifecycleStateDetached:
		return true
	}
	return false
}

// SetDesired sets the group's desired capacity now (not honouring the
// group's own cooldown: the scaler keeps its own). Auto Scaling picks the
// instances a scale-in terminates among the unprotected ones.
func (g *AWSGroup) SetDesired(ctx context.Context, n int) error {
	_, err := g.api.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(g.name), DesiredCapacity: aws.Int32(int32(n)), HonorCooldown: aws.Bool(false),
	})
	if err != nil {
		return fmt.Errorf("set desired capacity of %s to %d: %w", g.name, n, err)
	}
	return nil
}

// Protect sets the instances' scale-in protection, 50 at a time (the API's
// limit per call).
func (g *AWSGroup) Protect(ctx context.Context, ids []string, protected bool) error {
	for len(ids) > 0 {
		n := min(len(ids), 50)
		if _, err := g.api.SetInstanceProtection(ctx, &autoscaling.SetInstanceProtectionInput{
			AutoScalingGroupName: aws.String(g.name), InstanceIds: ids[:n], ProtectedFromScaleIn: aws.Bool(protected),
		}); err != nil {
			return fmt.Errorf("set instance protection in %s: %w", g.name, err)
		}
		ids = ids[n:]
	}
	return nil
}

// NewAutoScalingClient is an EC2 Auto Scaling client with credentials from
// the default chain (environment, shared files, the instance or pod role).
// region empty: the chain's region; endpoint empty: AWS's.
func NewAutoScalingClient(ctx context.Context, region, endpoint string) (*autoscaling.Client, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("aws config: no region (set aws.region in the scaler config or AWS_REGION)")
	}
	return autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
