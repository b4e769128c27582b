package document

import (
	"math"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// FleetCapacity is how many of a fleet's builds run at once on its
// reserved capacity, given those it runs and those that wait: its
// baseCapacity, or, with a TARGET_TRACKING_SCALING configuration, the
// capacity that holds its utilization (running / capacity) at the target
// FLEET_UTILIZATION_RATE (percent; 100 without one) for all of them,
// between baseCapacity and maxCapacity. AWS scales a fleet in minutes;
// buildbatch's capacity is slots, which follow demand at once.
func FleetCapacity(f *cb.Fleet, running, queued int) int {
	base := int(max(cb.Deref(f.BaseCapacity), 0))
	sc := f.ScalingConfiguration
	if sc == nil || cb.Deref(sc.ScalingType) != cb.FleetScalingTypeTargetTrackingScaling || int(cb.Deref(sc.MaxCapacity)) <= base {
		return base
	}
	target := 100.0
	for _, t := range sc.TargetTrackingScalingConfigs {
		if cb.Deref(t.MetricType) == cb.FleetScalingMetricTypeFleetUtilizationRate && cb.Deref(t.TargetValue) > 0 {
			target = min(max(cb.Deref(t.TargetValue), 1), 100) // at least 1%: a tinier one would be infinite capacity
		}
	}
	want := int(math.Ceil(float64(max(running, 0)+max(queued, 0)) * 100 / target))
	return min(max(want, base), int(cb.Deref(sc.MaxCapacity)))
}
