package api

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/buildbatch/buildbatch/internal/awsjson"
	cb "github.com/buildbatch/buildbatch/internal/codebuild"
	"github.com/buildbatch/buildbatch/internal/document"
	"github.com/buildbatch/buildbatch/internal/ident"
	"github.com/buildbatch/buildbatch/internal/store"
)

// Fleets are reserved capacity: baseCapacity builds of the fleet run at
// once (across every node); more wait in QUEUED, or with overflowBehavior
// ON_DEMAND take on-demand slots (the scheduler's fleetClaims). A build
// runs on a fleet when its environment names it (the project's
// environment.fleet, StartBuild's fleetOverride, a batch entry's
// env.fleet). Capacity here is slots on the executor, not machines: a fleet
// is ready as soon as it is stored, so CreateFleet (UpdateFleet) answers
// CREATING (UPDATING), as AWS does, and the fleet is ACTIVE right after.

var fleetName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9\-_]{1,127}$`)

func fleetNotFound(ref string) string { return fmt.Sprintf("Fleet %s does not exist", ref) }

// fleetRef is the name a fleet name or ARN means for the caller.
func fleetRef(ctx context.Context, ref string) string {
	name := scopedName(ctx, ref, "fleet")
	if name != ref {
		name, _, _ = strings.Cut(name, ":") // <name>:<uuid>
	}
	return name
}

func checkFleet(f *cb.Fleet) error {
	if n := cb.Deref(f.BaseCapacity); n < 1 {
		return invalid("Invalid input: baseCapacity must be at least 1, not %d", n)
	}
	switch cb.Deref(f.ComputeType) {
	case cb.ComputeTypeAttributeBasedCompute, cb.ComputeTypeCustomInstanceType:
		if f.ComputeConfiguration == nil {
			return invalid("Invalid input: computeConfiguration is required when computeType is %s", cb.Deref(f.ComputeType))
		}
		if cb.Deref(f.ComputeType) == cb.ComputeTypeCustomInstanceType && cb.Deref(f.ComputeConfiguration.InstanceType) == "" {
			return invalid("Invalid input: computeConfiguration.instanceType is required when computeType is CUSTOM_INSTANCE_TYPE")
		}
	}
	if sc := f.ScalingConfiguration; sc != nil && sc.MaxCapacity != nil && cb.Deref(sc.MaxCapacity) < cb.Deref(f.BaseCapacity) {
		return invalid("Invalid input: scalingConfiguration.maxCapacity (%d) is less than baseCapacity (%d)", cb.Deref(sc.MaxCapacity), cb.Deref(f.BaseCapacity))
	}
	return nil
}

func scalingOutput(in *cb.ScalingConfigurationInput, base *int32) *cb.ScalingConfigurationOutput {
	if in == nil {
		return nil
	}
	return &cb.ScalingConfigurationOutput{ScalingType: in.ScalingType, TargetTrackingScalingConfigs: in.TargetTrackingScalingConfigs,
		MaxCapacity: in.MaxCapacity, DesiredCapacity: base}
}

func fleetStatus(code string) *cb.FleetStatus { return &cb.FleetStatus{StatusCode: cb.String(code)} }

func (a *API) putFleet(ctx context.Context, tx store.Tx, scope store.Scope, f *cb.Fleet, now time.Time, insert bool) error {
	doc, err := json.Marshal(f)
	if err != nil {
		return err
	}
	r := &store.Resource{Scope: scope, Kind: store.KindFleet, Name: cb.Deref(f.Name), Created: now, Modified: now, Doc: doc}
	if insert {
		return tx.ResourceInsert(ctx, r)
	}
	return tx.ResourcePut(ctx, r)
}

func getFleet(ctx context.Context, tx store.Tx, scope store.Scope, name string) (*cb.Fleet, error) {
	r, err := tx.ResourceGet(ctx, scope, store.KindFleet, name)
	if err != nil {
		return nil, err
	}
	var f cb.Fleet
	if err := json.Unmarshal(r.Doc, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// activate ends a fleet's CREATING or UPDATING: its capacity is there.
func (a *API) activate(ctx context.Context, scope store.Scope, name string) {
	err := a.st.Update(ctx, func(tx store.Tx) error {
		f, err := getFleet(ctx, tx, scope, name)
		if err != nil {
			return err
		}
		f.Status = fleetStatus(cb.FleetStatusCodeActive)
		return a.putFleet(ctx, tx, scope, f, f.LastModified.Time, false)
	})
	if err != nil && !isNotFound(err) && a.opts.Log != nil {
		a.opts.Log.Error("activating fleet", "fleet", name, "err", err)
	}
}

// CreateFleet creates a fleet.
func (a *API) CreateFleet(ctx context.Context, in *cb.CreateFleetInput) (*cb.CreateFleetOutput, error) {
	c, scope := scopeOf(ctx)
	name := cb.Deref(in.Name)
	if !fleetName.MatchString(name) {
		return nil, invalid("Invalid input: fleet name %q must be 2 to 128 letters, digits, hyphens and underscores, starting with a letter or digit", name)
	}
	now := a.now()
	id := name + ":" + ident.UUID()
	f := &cb.Fleet{Arn: cb.String(ident.ARN("codebuild", c.Region, c.Account, "fleet/"+id)), Name: cb.String(name), Id: cb.String(id),
		Created: ts(now), LastModified: ts(now), Status: fleetStatus(cb.FleetStatusCodeCreating), BaseCapacity: in.BaseCapacity,
		EnvironmentType: in.EnvironmentType, ComputeType: in.ComputeType, ComputeConfiguration: in.ComputeConfiguration,
		ScalingConfiguration: scalingOutput(in.ScalingConfiguration, in.BaseCapacity), OverflowBehavior: in.OverflowBehavior,
		VpcConfig: in.VpcConfig, ProxyConfiguration: in.ProxyConfiguration, ImageId: in.ImageId, FleetServiceRole: in.FleetServiceRole, Tags: in.Tags}
	if f.OverflowBehavior == nil {
		f.OverflowBehavior = cb.String(cb.FleetOverflowBehaviorQueue)
	}
	if f.Tags == nil {
		f.Tags = []cb.Tag{}
	}
	if err := checkFleet(f); err != nil {
		return nil, err
	}
	err := a.st.Update(ctx, func(tx store.Tx) error { return a.putFleet(ctx, tx, scope, f, now, true) })
	if isConflict(err) {
		return nil, awsjson.Errorf(awsjson.ResourceAlreadyExists, "Fleet %s already exists", name)
	}
	if err != nil {
		return nil, translate(err, "")
	}
	a.activate(ctx, scope, name)
	return &cb.CreateFleetOutput{Fleet: f}, nil
}

// UpdateFleet replaces the settings given.
func (a *API) UpdateFleet(ctx context.Context, in *cb.UpdateFleetInput) (*cb.UpdateFleetOutput, error) {
	_, scope := scopeOf(ctx)
	name := fleetRef(ctx, cb.Deref(in.Arn))
	var out *cb.Fleet
	err := a.st.Update(ctx, func(tx store.Tx) error {
		f, err := getFleet(ctx, tx, scope, name)
		if err != nil {
			return err
		}
		set(&f.BaseCapacity, in.BaseCapacity)
		set(&f.EnvironmentType, in.EnvironmentType)
		set(&f.ComputeType, in.ComputeType)
		set(&f.ComputeConfiguration, in.ComputeConfiguration)
		if in.ScalingConfiguration != nil {
			f.ScalingConfiguration = scalingOutput(in.ScalingConfiguration, f.BaseCapacity)
		} else if f.ScalingConfiguration != nil {
			f.ScalingConfiguration.DesiredCapacity = f.BaseCapacity
		}
		set(&f.OverflowBehavior, in.OverflowBehavior)
		set(&f.VpcConfig, in.VpcConfig)
		set(&f.ProxyConfiguration, in.ProxyConfiguration)
		set(&f.ImageId, in.ImageId)
		set(&f.FleetServiceRole, in.FleetServiceRole)
		setList(&f.Tags, in.Tags)
		if err := checkFleet(f); err != nil {
			return err
		}
		now := a.now()
		f.LastModified, f.Status = ts(now), fleetStatus(cb.FleetStatusCodeUpdating)
		out = f
		return a.putFleet(ctx, tx, scope, f, now, false)
	})
	if err != nil {
		return nil, translate(err, fleetNotFound(cb.Deref(in.Arn)))
	}
	a.activate(ctx, scope, name)
	return &cb.UpdateFleetOutput{Fleet: out}, nil
}

// DeleteFleet deletes a fleet; its builds are kept (those still waiting
// run on demand).
func (a *API) DeleteFleet(ctx context.Context, in *cb.DeleteFleetInput) (*cb.DeleteFleetOutput, error) {
	_, scope := scopeOf(ctx)
	name := fleetRef(ctx, cb.Deref(in.Arn))
	err := a.st.Update(ctx, func(tx store.Tx) error { return tx.ResourceDelete(ctx, scope, store.KindFleet, name) })
	if err != nil {
		if isNotFound(err) {
			return nil, invalid("Invalid input: %s", fleetNotFound(cb.Deref(in.Arn)))
		}
		return nil, translate(err, "")
	}
	return &cb.DeleteFleetOutput{}, nil
}

// BatchGetFleets returns fleets by name or ARN.
func (a *API) BatchGetFleets(ctx context.Context, in *cb.BatchGetFleetsInput) (*cb.BatchGetFleetsOutput, error) {
	_, scope := scopeOf(ctx)
	out := &cb.BatchGetFleetsOutput{Fleets: []cb.Fleet{}, FleetsNotFound: []string{}}
	err := a.st.View(ctx, func(tx store.Tx) error {
		seen := map[string]bool{}
		var loads []store.FleetLoad // read once, for the first fleet that scales
		loaded := false
		for _, ref := range in.Names {
			if seen[ref] {
				continue
			}
			seen[ref] = true
			f, err := getFleet(ctx, tx, scope, fleetRef(ctx, ref))
			if isNotFound(err) || (err == nil && strings.HasPrefix(ref, "arn:") && cb.Deref(f.Arn) != ref) {
				out.FleetsNotFound = append(out.FleetsNotFound, ref)
				continue
			}
			if err != nil {
				return err
			}
			if sc := f.ScalingConfiguration; sc != nil {
				// desiredCapacity: what the fleet's builds ask for now.
				if !loaded {
					if loads, err = tx.BuildFleetLoad(ctx); err != nil {
						return err
					}
					loaded = true
				}
				running, queued := 0, 0
				for _, l := range loads {
					if l.Scope == scope && l.Fleet == cb.Deref(f.Name) {
						running, queued = l.Running, l.Queued
					}
				}
				sc.DesiredCapacity = cb.Int32(int32(document.FleetCapacity(f, running, queued)))
			}
			out.Fleets = append(out.Fleets, *f)
		}
		return nil
	})
	return out, translate(err, "")
}

// ListFleets lists fleet ARNs (the model's FleetArns), by name unless
// sortBy says otherwise.
func (a *API) ListFleets(ctx context.Context, in *cb.ListFleetsInput) (*cb.ListFleetsOutput, error) {
	_, scope := scopeOf(ctx)
	by, order := cb.Deref(in.SortBy), cb.Deref(in.SortOrder)
	list := "fleets/" + by + "/" + order
	if _, err := decodeToken(list, in.NextToken); err != nil { // a bad token before any read
		return nil, err
	}
	var all []*store.Resource
	err := a.st.View(ctx, func(tx store.Tx) error {
		var err error
		all, err = tx.ResourceList(ctx, scope, store.KindFleet, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	fleets := make([]cb.Fleet, 0, len(all))
	for _, r := range all {
		var f cb.Fleet
		if err := json.Unmarshal(r.Doc, &f); err != nil {
			return nil, err
		}
		fleets = append(fleets, f)
	}
	slices.SortStableFunc(fleets, func(x, y cb.Fleet) int {
		switch by {
		case cb.FleetSortByTypeCreatedTime:
			if n := x.Created.Compare(y.Created.Time); n != 0 {
				return n
			}
		case cb.FleetSortByTypeLastModifiedTime:
			if n := x.LastModified.Compare(y.LastModified.Time); n != 0 {
				return n
			}
		}
		return strings.Compare(cb.Deref(x.Name), cb.Deref(y.Name))
	})
	if order == cb.SortOrderTypeDescending {
		slices.Reverse(fleets)
	}
	from, to, next, err := offsetPage(list, in.NextToken, in.MaxResults, len(fleets))
	if err != nil {
		return nil, err
	}
	out := &cb.ListFleetsOutput{Fleets: []string{}, NextToken: next}
	for _, f := range fleets[from:to] {
		out.Fleets = append(out.Fleets, cb.Deref(f.Arn))
	}
	return out, nil
}

// checkBuildFleet refuses a build on a fleet that does not exist or is
// not ACTIVE.
func checkBuildFleet(ctx context.Context, tx store.Tx, scope store.Scope, env *cb.ProjectEnvironment) error {
	if env == nil || env.Fleet == nil || cb.Deref(env.Fleet.FleetArn) == "" {
		return nil
	}
	ref := cb.Deref(env.Fleet.FleetArn)
	f, err := getFleet(ctx, tx, scope, fleetRef(ctx, ref))
	if isNotFound(err) || (err == nil && strings.HasPrefix(ref, "arn:") && cb.Deref(f.Arn) != ref) {
		// (An ARN of another account, or of a fleet deleted since and
		// made again, names no fleet of the caller's.)
		return invalid("Invalid input: %s", fleetNotFound(ref))
	}
	if err != nil {
		return err
	}
	if s := cb.Deref(f.Status.StatusCode); s != cb.FleetStatusCodeActive && s != cb.FleetStatusCodeUpdating && s != cb.FleetStatusCodeRotating {
		return invalid("Invalid input: fleet %s is %s, not ACTIVE", ref, s)
	}
	return nil
}
