package localserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/tripswitch-otel/tripswitch-go/localserver/internal/engine"
)

// breakerSpec is the configuration of a breaker as the management API shows
// it, with defaults filled in: its name, the evaluation settings (defined
// once, with their JSON names, by [engine.Config]) and what the engine does
// not read. Its JSON is the breaker's configuration in responses, in the
// data file and in the configuration hash.
type breakerSpec struct {
	Name string `json:"name"`
	engine.Config
	Actions  json.RawMessage   `json:"actions,omitempty"`
	Metadata map[string]string `json:"metadata"`
}

// validateSpec checks sp, fills the engine defaults and returns the result;
// prefix is prepended to field names in errors (e.g. "breakers[2].").
func validateSpec(sp breakerSpec, prefix string) (breakerSpec, *apiError) {
	if err := checkName(prefix+"name", sp.Name); err != nil {
		return sp, err
	}
	if sp.Metric == "" {
		return sp, fieldErr(prefix+"metric", "is required")
	}
	if err := checkText(prefix+"metric", sp.Metric, maxMetricLen); err != nil {
		return sp, err
	}
	if sp.Kind == "" {
		return sp, fieldErr(prefix+"kind", "is required")
	}
	if err := checkMetadata(prefix+"metadata", sp.Metadata); err != nil {
		return sp, err
	}
	cfg := sp.Config.Normalize()
	if err := cfg.Validate(); err != nil {
		var fe *engine.FieldError
		if errors.As(err, &fe) {
			return sp, &apiError{Status: http.StatusUnprocessableEntity, Code: codeInvalidField, Field: prefix + fe.Field,
				Message: prefix + fe.Field + ": " + fe.Message}
		}
		return sp, fieldErr(prefix+"kind", "%v", err)
	}
	sp.Config = cfg
	if sp.Metadata == nil {
		sp.Metadata = map[string]string{}
	}
	if sp.KindParams == nil {
		sp.KindParams = map[string]float64{}
	}
	return sp, nil
}

// breakerFields is a breaker object of a request (CreateBreaker, a PATCH of
// one, or an item of a sync). Decoded onto a spec's engine.Config, the
// settings present overwrite it and the absent ones are kept; the fields
// declared here shadow the Config's kind_params (which replaces rather than
// merges) and carry what a spec does not hold. A null keeps the current
// value, except for kind_params and actions, where it clears it.
type breakerFields struct {
	engine.Config
	Name       *string            `json:"name"`
	KindParams json.RawMessage    `json:"kind_params"`
	Actions    json.RawMessage    `json:"actions"`
	Metadata   *map[string]string `json:"metadata"`
	ID         *string            `json:"id"`
	RouterIDs  *[]string          `json:"router_ids"`
	RouterID   *string            `json:"router_id"`
}

// breakerInput is a decoded breaker object and its JSON, which apply decodes
// again onto the spec it changes.
type breakerInput struct {
	breakerFields
	raw []byte
}

// unmarshal decodes a breaker object onto f. A type error names the field
// as the object does ("window_ms"), not by its path through the embedded
// Config.
func (f *breakerFields) unmarshal(b []byte) error {
	err := json.Unmarshal(b, f)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		te.Field = strings.TrimPrefix(te.Field, "Config.")
	}
	return err
}

// unmarshalBreakerItem decodes one breaker object; a decoding error is the
// 400 or 422 of jsonError. allowEmpty accepts an empty body as {}.
func unmarshalBreakerItem(b []byte, allowEmpty bool) (breakerInput, error) {
	in := breakerInput{raw: b}
	if len(bytes.TrimSpace(b)) == 0 {
		return in, unmarshalBody(b, &in.breakerFields, allowEmpty)
	}
	if err := in.breakerFields.unmarshal(b); err != nil {
		return in, jsonError(err)
	}
	return in, nil
}

// unmarshalBreakerInput accepts a CreateBreaker object or {"breaker": {…}}.
func unmarshalBreakerInput(b []byte, allowEmpty bool) (breakerInput, error) {
	var wrapped struct {
		Breaker json.RawMessage `json:"breaker"`
	}
	if err := unmarshalBody(b, &wrapped, allowEmpty); err == nil && isObject(wrapped.Breaker) {
		b = wrapped.Breaker
	}
	return unmarshalBreakerItem(b, allowEmpty)
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// routerLinks returns the router IDs named by the input, without
// duplicates, and whether it named any field of links at all.
func (in breakerInput) routerLinks() (ids []string, given bool) {
	if in.RouterIDs != nil {
		ids = slices.Clone(*in.RouterIDs)
		given = true
	}
	if in.RouterID != nil && *in.RouterID != "" {
		ids = append(ids, *in.RouterID)
		given = true
	}
	if !given {
		return nil, false
	}
	return dedup(ids), true
}

// dedup returns ids without repetitions, in first-seen order.
func dedup(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// apply overlays the input on sp and validates the result; prefix is
// prepended to field names in errors (e.g. "breakers[2].").
func (in breakerInput) apply(sp breakerSpec, prefix string) (breakerSpec, *apiError) {
	field := func(f string) string { return prefix + f }
	if len(bytes.TrimSpace(in.raw)) > 0 {
		over := breakerFields{Config: sp.Config}
		if err := over.unmarshal(in.raw); err != nil { // decoded once already: cannot fail
			return sp, jsonError(err)
		}
		sp.Config = over.Config
	}
	if in.Name != nil {
		sp.Name = *in.Name
	}
	if in.KindParams != nil && !bytes.Equal(bytes.TrimSpace(in.KindParams), []byte("null")) {
		var kp map[string]float64
		if err := json.Unmarshal(in.KindParams, &kp); err != nil {
			return sp, fieldErr(field("kind_params"), "must be an object of numbers, e.g. {\"percentile\": 99}")
		}
		if len(kp) > maxMetadata {
			return sp, fieldErr(field("kind_params"), "must have at most %d entries", maxMetadata)
		}
		sp.KindParams = kp
	} else if in.KindParams != nil {
		sp.KindParams = nil
	}
	if in.Actions != nil {
		a := bytes.TrimSpace(in.Actions)
		if len(a) > maxActionsLen {
			return sp, fieldErr(field("actions"), "must be at most %d bytes of JSON", maxActionsLen)
		}
		if bytes.Equal(a, []byte("null")) {
			sp.Actions = nil
		} else {
			var buf bytes.Buffer
			if err := json.Compact(&buf, a); err != nil {
				return sp, fieldErr(field("actions"), "must be valid JSON")
			}
			sp.Actions = buf.Bytes()
		}
	}
	if in.Metadata != nil {
		sp.Metadata = cloneStringMap(*in.Metadata)
	}
	return validateSpec(sp, prefix)
}
