package document

import (
	"testing"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

func TestFleetCapacity(t *testing.T) {
	scaling := func(max int32, target float64) *cb.ScalingConfigurationOutput {
		sc := &cb.ScalingConfigurationOutput{ScalingType: cb.String(cb.FleetScalingTypeTargetTrackingScaling), MaxCapacity: cb.Int32(max)}
		if target > 0 {
			sc.TargetTrackingScalingConfigs = []cb.TargetTrackingScalingConfiguration{{MetricType: cb.String(cb.FleetScalingMetricTypeFleetUtilizationRate), TargetValue: &target}}
		}
		return sc
	}
	cases := []struct {
		name            string
		base            int32
		sc              *cb.ScalingConfigurationOutput
		running, queued int
		want            int
	}{
		{"no scaling", 2, nil, 5, 10, 2},
		{"scaling, idle: base", 2, scaling(8, 0), 0, 0, 2},
		{"scaling, demand within base", 2, scaling(8, 0), 1, 1, 2},
		{"scaling up to demand (target 100%)", 2, scaling(8, 0), 2, 3, 5},
		{"scaling capped at maxCapacity", 2, scaling(8, 0), 4, 20, 8},
		{"target 50%: twice the demand", 1, scaling(10, 50), 2, 1, 6},
		{"target 80%: rounded up", 1, scaling(10, 80), 3, 0, 4},
		{"maxCapacity below base: base", 4, scaling(2, 0), 3, 9, 4},
		{"another scaling type: base", 2, &cb.ScalingConfigurationOutput{ScalingType: cb.String("OTHER"), MaxCapacity: cb.Int32(9)}, 3, 9, 2},
		{"a target over 100% counts as 100%", 1, scaling(10, 400), 3, 0, 3},
		{"a target under 1% counts as 1%: capped at maxCapacity", 1, scaling(10, 1e-320), 3, 0, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &cb.Fleet{BaseCapacity: cb.Int32(c.base), ScalingConfiguration: c.sc}
			if got := FleetCapacity(f, c.running, c.queued); got != c.want {
				t.Errorf("FleetCapacity = %d, want %d", got, c.want)
			}
		})
	}
}
