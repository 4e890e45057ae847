package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// EnsureRouter makes sure the project has a router named in.Name with the
// settings of in, and returns it: it creates the router when no router has
// that name, and otherwise updates the one that does. Calling it again with
// the same input changes nothing, so a deployment script can run it on
// every deploy.
//
// EnsureRouter never deletes anything and never unsets a field: on an
// existing router, an empty Description or Mode and a nil Enabled are left
// as they are, and the keys of in.Metadata are merged into the router's
// metadata (other keys are kept). When several routers already have the
// name (CreateRouter does not refuse duplicates) the error matches
// [ErrDuplicateName] and nothing is changed.
//
// It makes up to two requests (a paged list, then a create or an update),
// each with opts; [WithTimeout] bounds the whole call. The create carries
// an Idempotency-Key (the one given with [WithIdempotencyKey], or a random
// one unless automatic keys are off), so a retried create does not make a
// second router. Two processes ensuring the same new name at the same
// moment may each create one; the next EnsureRouter then reports
// [ErrDuplicateName].
func (c *Client) EnsureRouter(ctx context.Context, projectID string, in CreateRouterInput, opts ...RequestOption) (*Router, error) {
	if strings.TrimSpace(in.Name) == "" {
		return nil, invalidArg("router name", "is empty")
	}
	ctx, cancel := scopeTimeout(ctx, opts)
	defer cancel()
	var found []Router
	for r, err := range c.ListRoutersAll(ctx, projectID, ListRoutersParams{}, opts...) {
		if err != nil {
			return nil, err
		}
		if r.Name == in.Name {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return c.CreateRouter(ctx, projectID, in, opts...)
	case 1:
	default:
		ids := make([]string, len(found))
		for i, r := range found {
			ids[i] = r.ID
		}
		return nil, fmt.Errorf("%w: %d routers are named %q (%s); delete all but one", ErrDuplicateName, len(found), in.Name, strings.Join(ids, ", "))
	}
	old := found[0]
	up, changed := routerUpdate(in, old)
	if !changed {
		return &old, nil
	}
	return c.UpdateRouter(ctx, projectID, old.ID, up, opts...)
}

// routerUpdate returns the update that brings old to in, and whether it
// changes anything.
func routerUpdate(in CreateRouterInput, old Router) (UpdateRouterInput, bool) {
	var up UpdateRouterInput
	changed := false
	if in.Description != "" && in.Description != old.Description {
		up.Description, changed = &in.Description, true
	}
	if in.Mode != "" && in.Mode != old.Mode {
		up.Mode, changed = &in.Mode, true
	}
	if in.Enabled != nil && *in.Enabled != old.Enabled {
		up.Enabled, changed = in.Enabled, true
	}
	if md, ok := mergeMetadata(old.Metadata, in.Metadata); ok {
		up.Metadata, changed = md, true
	}
	return up, changed
}

// EnsureBreaker makes sure the project has a breaker named in.Name with the
// settings of in, and returns it: it creates the breaker when the project
// has none of that name (breaker names are unique in a project), and
// otherwise updates it. Calling it again with the same input leaves the
// breaker as it is; updating a breaker keeps its current state.
//
// EnsureBreaker never deletes anything: unlike [Client.SyncBreakers] it
// leaves the project's other breakers alone, and on an existing breaker it
// never unlinks a router or unsets a field. Metric, Kind, Op and Threshold
// are always applied; other zero fields of in keep the breaker's current
// values; nil KindParams and Actions are left as they are; the keys of
// in.Metadata are merged into the breaker's metadata; in.RouterIDs are
// linked in addition to the routers already linked.
//
// It makes a paged list, then a create or an update, each request with
// opts; [WithTimeout] bounds the whole call. The create carries an
// Idempotency-Key, so a retried create does not fail on its own first
// attempt. When another process creates the same breaker between the list
// and the create, the create's conflict is resolved by listing again and
// updating that breaker.
func (c *Client) EnsureBreaker(ctx context.Context, projectID string, in CreateBreakerInput, opts ...RequestOption) (*Breaker, error) {
	if strings.TrimSpace(in.Name) == "" {
		return nil, invalidArg("breaker name", "is empty")
	}
	ctx, cancel := scopeTimeout(ctx, opts)
	defer cancel()
	old, err := c.findBreaker(ctx, projectID, in.Name, opts)
	if err != nil {
		return nil, err
	}
	if old == nil {
		b, err := c.CreateBreaker(ctx, projectID, in, opts...)
		if !errors.Is(err, ErrConflict) {
			return b, err
		}
		// Created by someone else since the list: update theirs.
		if old, _ = c.findBreaker(ctx, projectID, in.Name, opts); old == nil {
			return nil, err
		}
	}
	return c.UpdateBreaker(ctx, projectID, old.ID, breakerUpdate(in, *old), opts...)
}

// findBreaker returns the project's breaker named name, or nil.
func (c *Client) findBreaker(ctx context.Context, projectID, name string, opts []RequestOption) (*Breaker, error) {
	for b, err := range c.ListBreakersAll(ctx, projectID, ListBreakersParams{}, opts...) {
		if err != nil {
			return nil, err
		}
		if b.Name == name {
			return &b, nil
		}
	}
	return nil, nil
}

// breakerUpdate returns the update that applies in to old without
// deleting anything.
func breakerUpdate(in CreateBreakerInput, old Breaker) UpdateBreakerInput {
	up := UpdateBreakerInput{
		Metric:                 &in.Metric,
		Kind:                   &in.Kind,
		KindParams:             in.KindParams,
		Op:                     &in.Op,
		Threshold:              &in.Threshold,
		HalfOpenBackoffEnabled: in.HalfOpenBackoffEnabled,
		Actions:                in.Actions,
	}
	up.WindowMs = nonZero(in.WindowMs)
	up.MinCount = nonZero(in.MinCount)
	up.MinStateDurationMs = nonZero(in.MinStateDurationMs)
	up.CooldownMs = nonZero(in.CooldownMs)
	up.EvalIntervalMs = nonZero(in.EvalIntervalMs)
	up.HalfOpenConfirmationMs = nonZero(in.HalfOpenConfirmationMs)
	up.HalfOpenBackoffCapMs = nonZero(in.HalfOpenBackoffCapMs)
	up.RecoveryWindowMs = nonZero(in.RecoveryWindowMs)
	up.RecoveryAllowRateRampSteps = nonZero(in.RecoveryAllowRateRampSteps)
	up.HalfOpenIndeterminatePolicy = nonZero(in.HalfOpenIndeterminatePolicy)
	if md, ok := mergeMetadata(old.Metadata, in.Metadata); ok {
		up.Metadata = md
	}
	links := slices.Clone(old.RouterIDs)
	for _, id := range in.RouterIDs {
		if !slices.Contains(links, id) {
			links = append(links, id)
		}
	}
	if len(links) > len(old.RouterIDs) {
		up.RouterIDs = links
	}
	return up
}

// nonZero returns a pointer to v, or nil for the zero value.
func nonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// mergeMetadata returns old with add's keys set, and whether that differs
// from old.
func mergeMetadata(old, add map[string]string) (map[string]string, bool) {
	changed := false
	for k, v := range add {
		if ov, ok := old[k]; !ok || ov != v {
			changed = true
			break
		}
	}
	if !changed {
		return nil, false
	}
	md := maps.Clone(old)
	if md == nil {
		md = make(map[string]string, len(add))
	}
	maps.Copy(md, add)
	return md, true
}
