package localserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
)

// metadataPatch is a flat map merged into metadata; a null value deletes
// the key.
type metadataPatch map[string]*string

func (mp metadataPatch) merge(cur map[string]string) map[string]string {
	out := cloneStringMap(cur)
	for k, v := range mp {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	return out
}

func decodeMetadataPatch(w http.ResponseWriter, r *http.Request) (metadataPatch, error) {
	body, err := readBody(w, r, maxAdminBody)
	if err != nil {
		return nil, err
	}
	var mp metadataPatch
	if err := unmarshalBody(body, &mp, false); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity {
			return nil, fieldErr("metadata", "must be a flat object of strings")
		}
		return nil, err
	}
	// Accept {"metadata": {…}} as well as the bare map.
	if len(mp) == 1 && mp["metadata"] != nil {
		var inner metadataPatch
		if json.Unmarshal([]byte(*mp["metadata"]), &inner) == nil {
			mp = inner
		}
	}
	return mp, nil
}

func (mp *metadataPatch) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(metadataPatch, len(raw))
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case bytes.Equal(v, []byte("null")):
			out[k] = nil
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			out[k] = &s
		case k == "metadata" && len(raw) == 1 && len(v) > 0 && v[0] == '{':
			s := string(v)
			out[k] = &s
		default:
			return &json.UnmarshalTypeError{Value: "non-string", Type: stringType, Field: k}
		}
	}
	*mp = out
	return nil
}

var stringType = reflect.TypeOf("")
